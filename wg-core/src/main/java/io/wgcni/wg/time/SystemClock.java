package io.wgcni.wg.time;

import java.time.Instant;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/** The real clock; timer tasks run on one shared daemon thread (they are short: they only queue work). */
public final class SystemClock implements Clock {
    public static final SystemClock INSTANCE = new SystemClock();

    private final ScheduledThreadPoolExecutor scheduler;

    private SystemClock() {
        scheduler = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "wg-timers");
            t.setDaemon(true);
            return t;
        });
        scheduler.setRemoveOnCancelPolicy(true);
    }

    @Override
    public long nanoTime() {
        return System.nanoTime();
    }

    @Override
    public long epochNanos() {
        Instant now = Instant.now();
        return now.getEpochSecond() * 1_000_000_000L + now.getNano();
    }

    @Override
    public Cancellable schedule(Runnable task, long delayNanos) {
        var future = scheduler.schedule(task, delayNanos, TimeUnit.NANOSECONDS);
        return () -> future.cancel(false);
    }
}
