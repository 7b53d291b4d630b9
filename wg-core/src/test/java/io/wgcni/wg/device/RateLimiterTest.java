package io.wgcni.wg.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.wg.time.ManualClock;
import java.net.InetAddress;
import java.net.UnknownHostException;
import org.junit.jupiter.api.Test;

/** The kernel's ratelimiter rules: 20 a second per source, a burst of 5, IPv6 by /64, idle entries forgotten. */
class RateLimiterTest {
    private final ManualClock clock = new ManualClock();
    private final RateLimiter limiter = new RateLimiter(clock);

    private static InetAddress ip(String s) {
        try {
            return InetAddress.getByName(s);
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    private int allowed(InetAddress a, int tries) {
        int n = 0;
        for (int i = 0; i < tries; i++) {
            n += limiter.allow(a) ? 1 : 0;
        }
        return n;
    }

    @Test
    void aBurstOfFiveThenOneEvery50Ms() {
        InetAddress a = ip("192.0.2.1");
        assertEquals(RateLimiter.PACKETS_BURSTABLE, allowed(a, 100));
        clock.advanceMillis(49);
        assertFalse(limiter.allow(a));
        clock.advanceMillis(1);
        assertTrue(limiter.allow(a));
        assertFalse(limiter.allow(a));
    }

    @Test
    void overASecondASourceGetsTwentyPlusTheBurst() {
        InetAddress a = ip("192.0.2.1");
        int n = allowed(a, 5);
        for (int ms = 0; ms < 1000; ms++) {
            clock.advanceMillis(1);
            n += allowed(a, 3);
        }
        assertEquals(RateLimiter.PACKETS_PER_SECOND + RateLimiter.PACKETS_BURSTABLE, n);
    }

    @Test
    void sourcesHaveBucketsOfTheirOwnAndIpv6IsKeyedByItsSlash64() {
        assertEquals(5, allowed(ip("192.0.2.1"), 10));
        assertEquals(5, allowed(ip("192.0.2.2"), 10));
        assertEquals(5, allowed(ip("2001:db8:1:2::1"), 10));
        assertEquals(0, allowed(ip("2001:db8:1:2:ffff::9"), 10), "same /64: same bucket");
        assertEquals(5, allowed(ip("2001:db8:1:3::1"), 10), "another /64");
    }

    @Test
    void idleTimeRefillsOnlyUpToTheBurstAndIdleSourcesAreForgotten() {
        InetAddress a = ip("192.0.2.1");
        allowed(a, 10);
        assertEquals(1, limiter.size());
        clock.advanceMillis(60_000);
        assertEquals(5, allowed(a, 10), "no more than the burst after a long idle time");
        clock.advanceMillis(1_001);
        limiter.allow(ip("192.0.2.9")); // any call sweeps at most once a second
        assertEquals(1, limiter.size(), "the idle source was forgotten");
    }

    @Test
    void theTableIsBoundedNewSourcesBeyondItAreRefusedKnownOnesAreNot() {
        InetAddress known = ip("10.0.0.1");
        assertTrue(limiter.allow(known));
        for (int i = 1; i < RateLimiter.MAX_ENTRIES; i++) {
            assertTrue(limiter.allow(ip("10." + (1 + (i >> 16)) + "." + ((i >> 8) & 0xff) + "." + (i & 0xff))));
        }
        assertEquals(RateLimiter.MAX_ENTRIES, limiter.size());
        assertFalse(limiter.allow(ip("172.16.0.1")), "a new source while the table is full");
        assertEquals(RateLimiter.MAX_ENTRIES, limiter.size());
        assertTrue(limiter.allow(known), "a known source keeps its bucket");
        clock.advanceMillis(1_001);
        assertTrue(limiter.allow(ip("172.16.0.1")), "room again once idle sources are swept");
        assertEquals(1, limiter.size());
    }
}
