package io.wgcni.cluster;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * A token bucket per name: {@code burst} calls at once, then one per {@code interval}. Names are those of
 * authenticated nodes, so the map is bounded by the cluster's size.
 */
final class RateLimit {
    /** A node registers at start, on an endpoint change and on a key rotation: ten at once is far beyond that. */
    static final int REGISTRATION_BURST = 10;
    static final Duration REGISTRATION_INTERVAL = Duration.ofSeconds(6);

    private final int burst;
    private final Duration interval;
    private final LongSupplier nanos;
    private final Map<String, long[]> buckets = new HashMap<>();

    RateLimit(int burst, Duration interval, LongSupplier nanos) {
        if (burst < 1 || interval.isNegative() || interval.isZero()) {
            throw new IllegalArgumentException("a rate limit needs a burst >= 1 and a positive interval");
        }
        this.burst = burst;
        this.interval = interval;
        this.nanos = nanos;
    }

    static RateLimit registrations() {
        return new RateLimit(REGISTRATION_BURST, REGISTRATION_INTERVAL, System::nanoTime);
    }

    int burst() {
        return burst;
    }

    Duration interval() {
        return interval;
    }

    /** Takes one call from name's bucket; false (and nothing taken) when it is empty. */
    synchronized boolean tryAcquire(String name) {
        long now = nanos.getAsLong();
        long step = interval.toNanos();
        // {tokens, time of the last refill}
        long[] b = buckets.computeIfAbsent(name, n -> new long[] {burst, now});
        long earned = (now - b[1]) / step;
        if (earned > 0) {
            b[0] = Math.min(burst, b[0] + earned);
            b[1] = b[0] == burst ? now : b[1] + earned * step;
        }
        if (b[0] == 0) {
            return false;
        }
        b[0]--;
        return true;
    }

    /** Forgets a name (a removed node). */
    synchronized void forget(String name) {
        buckets.remove(name);
    }
}
