package io.wgcni.wg.time;

/**
 * Time for the protocol: a monotonic clock for timers and key ages, the wall clock for TAI64N timestamps and
 * handshake times, and one-shot scheduling. Injectable so tests run minutes of protocol time in milliseconds.
 */
public interface Clock {

    /** Monotonic nanoseconds, as {@link System#nanoTime()}. */
    long nanoTime();

    /** Wall-clock nanoseconds since the Unix epoch. */
    long epochNanos();

    /** Runs {@code task} once, {@code delayNanos} from now, on a thread of the clock's choosing. */
    Cancellable schedule(Runnable task, long delayNanos);

    interface Cancellable {
        void cancel();
    }
}
