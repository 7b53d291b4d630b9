package io.wgcni.cluster;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class RateLimitTest {
    private final AtomicLong now = new AtomicLong(1_000_000_000L);
    private final RateLimit limit = new RateLimit(3, Duration.ofSeconds(2), now::get);

    private void advance(Duration d) {
        now.addAndGet(d.toNanos());
    }

    @Test
    void aBurstThenOnePerInterval() {
        for (int i = 0; i < 3; i++) {
            assertTrue(limit.tryAcquire("a"), "call " + i);
        }
        assertFalse(limit.tryAcquire("a"));
        advance(Duration.ofMillis(1999));
        assertFalse(limit.tryAcquire("a"));
        advance(Duration.ofMillis(1));
        assertTrue(limit.tryAcquire("a"));
        assertFalse(limit.tryAcquire("a"));
    }

    @Test
    void namesHaveBucketsOfTheirOwn() {
        for (int i = 0; i < 3; i++) {
            limit.tryAcquire("a");
        }
        assertFalse(limit.tryAcquire("a"));
        assertTrue(limit.tryAcquire("b"));
    }

    @Test
    void idleTimeRefillsUpToTheBurstOnly() {
        limit.tryAcquire("a");
        advance(Duration.ofHours(1));
        for (int i = 0; i < 3; i++) {
            assertTrue(limit.tryAcquire("a"), "call " + i);
        }
        assertFalse(limit.tryAcquire("a"));
    }

    @Test
    void partIntervalsAreNotLost() {
        for (int i = 0; i < 3; i++) {
            limit.tryAcquire("a");
        }
        advance(Duration.ofMillis(1500));
        assertFalse(limit.tryAcquire("a"));
        advance(Duration.ofMillis(2500)); // 4 s since empty: two tokens
        assertTrue(limit.tryAcquire("a"));
        assertTrue(limit.tryAcquire("a"));
        assertFalse(limit.tryAcquire("a"));
    }

    @Test
    void forgettingANameGivesItAFullBucket() {
        for (int i = 0; i < 3; i++) {
            limit.tryAcquire("a");
        }
        limit.forget("a");
        assertTrue(limit.tryAcquire("a"));
    }

    @Test
    void nonsenseLimitsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new RateLimit(0, Duration.ofSeconds(1), now::get));
        assertThrows(IllegalArgumentException.class, () -> new RateLimit(1, Duration.ZERO, now::get));
    }
}
