package io.wgcni.wg.time;

/**
 * A re-armable one-shot timer with the kernel's {@code mod_timer}/{@code del_timer} semantics, made cheap for
 * the data path: moving the deadline later only records it, and the scheduled task re-arms itself when it
 * fires early. So a per-packet {@code mod} or {@code del} costs an uncontended lock, not a scheduler operation.
 */
public final class Timer {
    private final Clock clock;
    private final Runnable action;
    private long deadline;
    private boolean pending;
    private Clock.Cancellable scheduled;
    private long scheduledFor;

    public Timer(Clock clock, Runnable action) {
        this.clock = clock;
        this.action = action;
    }

    /** Arms the timer to fire {@code delayNanos} from now, replacing any earlier deadline. */
    public synchronized void mod(long delayNanos) {
        deadline = clock.nanoTime() + delayNanos;
        pending = true;
        if (scheduled == null || scheduledFor > deadline) {
            if (scheduled != null) {
                scheduled.cancel();
            }
            arm();
        }
    }

    /** Disarms the timer; a task already scheduled finds nothing to do. */
    public synchronized void del() {
        pending = false;
    }

    /**
     * Disarms the timer and takes its task out of the clock's queue, for a timer that may not be armed again soon
     * (its peer removed, its device down): a task left to find nothing to do would hold the timer, its peer and
     * their device until its deadline, which is up to 9 minutes away (zeroing the key material). It stays usable.
     */
    public synchronized void cancel() {
        pending = false;
        if (scheduled != null) {
            scheduled.cancel();
            scheduled = null;
        }
    }

    public synchronized boolean isPending() {
        return pending;
    }

    private void arm() {
        scheduledFor = deadline;
        scheduled = clock.schedule(this::fire, deadline - clock.nanoTime());
    }

    private void fire() {
        synchronized (this) {
            scheduled = null;
            if (!pending) {
                return;
            }
            if (clock.nanoTime() < deadline) {
                arm();
                return;
            }
            pending = false;
        }
        action.run();
    }
}
