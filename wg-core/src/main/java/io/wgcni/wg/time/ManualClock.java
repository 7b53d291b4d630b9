package io.wgcni.wg.time;

import java.util.PriorityQueue;

/**
 * A clock that moves only when told to. {@link #advance} runs every task that falls due, in deadline order, on
 * the calling thread, with {@link #nanoTime()} set to each task's deadline while it runs.
 */
public final class ManualClock implements Clock {
    private record Task(long deadline, long seq, Runnable body, boolean[] cancelled) implements Comparable<Task> {
        @Override
        public int compareTo(Task o) {
            int c = Long.compare(deadline, o.deadline);
            return c != 0 ? c : Long.compare(seq, o.seq);
        }
    }

    private final PriorityQueue<Task> tasks = new PriorityQueue<>();
    private final long epochOffset;
    private long now;
    private long seq;

    public ManualClock() {
        this(1_700_000_000_000_000_000L);
    }

    public ManualClock(long epochNanosAtZero) {
        this.epochOffset = epochNanosAtZero;
        this.now = 1_000_000_000L;
    }

    @Override
    public synchronized long nanoTime() {
        return now;
    }

    @Override
    public synchronized long epochNanos() {
        return epochOffset + now;
    }

    @Override
    public synchronized Cancellable schedule(Runnable task, long delayNanos) {
        boolean[] cancelled = {false};
        tasks.add(new Task(now + Math.max(0, delayNanos), seq++, task, cancelled));
        return () -> {
            synchronized (ManualClock.this) {
                cancelled[0] = true;
            }
        };
    }

    /** Tasks scheduled and neither run nor cancelled. */
    public synchronized int pending() {
        return (int) tasks.stream().filter(t -> !t.cancelled[0]).count();
    }

    /** Moves time forward by {@code nanos}, running the tasks that fall due. */
    public void advance(long nanos) {
        long target;
        synchronized (this) {
            target = now + nanos;
        }
        while (true) {
            Task next;
            synchronized (this) {
                next = tasks.peek();
                if (next == null || next.deadline > target) {
                    now = target;
                    return;
                }
                tasks.poll();
                now = Math.max(now, next.deadline);
                if (next.cancelled[0]) {
                    continue;
                }
            }
            next.body.run();
        }
    }

    public void advanceMillis(long millis) {
        advance(millis * 1_000_000L);
    }

    public synchronized int pendingTasks() {
        return (int) tasks.stream().filter(t -> !t.cancelled[0]).count();
    }
}
