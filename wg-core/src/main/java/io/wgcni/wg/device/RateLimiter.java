package io.wgcni.wg.device;

import io.wgcni.wg.time.Clock;
import java.net.InetAddress;
import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Token buckets per source address for handshake initiations while the device is under load (the kernel's
 * ratelimiter.c): 20 per second with a burst of 5, keyed by the IPv4 address or the IPv6 /64. At most
 * {@value #MAX_ENTRIES} sources are tracked at once (the kernel's largest table): beyond, a new source is refused
 * until idle ones are swept, so a flood from many addresses cannot grow the table without bound.
 */
final class RateLimiter {
    static final int PACKETS_PER_SECOND = 20;
    static final int PACKETS_BURSTABLE = 5;
    private static final long PACKET_COST = 1_000_000_000L / PACKETS_PER_SECOND;
    private static final long TOKEN_MAX = PACKET_COST * PACKETS_BURSTABLE;
    private static final long IDLE = 1_000_000_000L;
    static final int MAX_ENTRIES = 1 << 16;

    private record Source(byte[] bytes) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Source s && Arrays.equals(bytes, s.bytes);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(bytes);
        }
    }

    private static final class Bucket {
        long tokens = TOKEN_MAX;
        long last;
    }

    private final Clock clock;
    private final ConcurrentHashMap<Source, Bucket> buckets = new ConcurrentHashMap<>();
    private long lastSweep;

    RateLimiter(Clock clock) {
        this.clock = clock;
    }

    boolean allow(InetAddress address) {
        long now = clock.nanoTime();
        sweep(now);
        byte[] a = address.getAddress();
        Source key = new Source(a.length == 16 ? Arrays.copyOf(a, 8) : a);
        Bucket b = buckets.get(key);
        if (b == null && buckets.size() >= MAX_ENTRIES) {
            return false;
        }
        b = b != null ? b : buckets.computeIfAbsent(key, k -> {
            Bucket fresh = new Bucket();
            fresh.last = now;
            return fresh;
        });
        synchronized (b) {
            b.tokens = Math.min(TOKEN_MAX, b.tokens + (now - b.last));
            b.last = now;
            if (b.tokens < PACKET_COST) {
                return false;
            }
            b.tokens -= PACKET_COST;
            return true;
        }
    }

    private void sweep(long now) {
        synchronized (this) {
            if (now - lastSweep < IDLE) {
                return;
            }
            lastSweep = now;
        }
        buckets.values().removeIf(b -> {
            synchronized (b) {
                return now - b.last > IDLE;
            }
        });
    }

    int size() {
        return buckets.size();
    }
}
