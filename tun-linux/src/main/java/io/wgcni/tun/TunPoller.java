package io.wgcni.tun;

import com.sun.jna.LastErrorException;
import io.wgcni.wg.io.Packet;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One thread reading any number of {@link LinuxTun}s: a platform daemon thread ({@code wg-tun-poller-NAME}) in
 * {@code epoll_wait} over their descriptors, which calls each TUN's {@link Drain} when the TUN is readable. A node
 * that runs a WireGuard device per container then has one TUN-reading thread, not one per container.
 *
 * <p>Fairness: epoll is level-triggered, and each round calls the drain of each ready TUN once, in the order epoll
 * reports them; a TUN that still has packets afterwards is reported again in the next round, behind the others that
 * became ready meanwhile (the kernel puts a reported descriptor back at the end of its ready list). One flooding TUN
 * therefore gets one batch (at most {@code bufferCount} packets) per round, and cannot starve the rest. More ready
 * TUNs than one {@code epoll_wait} returns ({@link #MAX_EVENTS}) are served over several rounds in the same turn.
 *
 * <p>The poller owns one set of {@link Packet} buffers and lends it to each drain call, on its thread: a drain
 * must be done with them when it returns, and must not block for long (every other TUN waits meanwhile).
 *
 * <p>Descriptors: the epoll data of a TUN is a registration id, never reused, looked up in a map, so an event
 * for a descriptor number that was closed and reused meanwhile cannot reach a stale drain; and {@code epoll_ctl}
 * runs while the TUN holds its descriptor open ({@link LinuxTun#withFd}), so it never acts on a number that
 * names another file by then. A TUN closed while registered is dropped from the epoll set by the kernel;
 * {@link LinuxTun#onClose} tells the poller, which calls its drain once more (a read then returns -1, as a blocked
 * reader's does) and forgets it.
 */
public final class TunPoller implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TunPoller.class);
    /** Events one {@code epoll_wait} returns at most. */
    static final int MAX_EVENTS = 256;
    /** The epoll data of the wake eventfd; registrations count from 1. */
    private static final long WAKE = 0;
    /** A drain that keeps failing is logged at most this often, with the failures in between counted. */
    private static final long ERROR_LOG_INTERVAL_NANOS = TimeUnit.MINUTES.toNanos(1);
    private static final byte[] ONE = {1, 0, 0, 0, 0, 0, 0, 0};

    /** What the poller does with a readable TUN, on the poller's thread. */
    @FunctionalInterface
    public interface Drain {
        /**
         * Reads what the TUN has ready ({@link LinuxTun#readReady}, into {@code buffers}, lent for this call only)
         * and handles it. Returns false to have the poller stop watching this TUN (as when the read returned -1).
         * An IOException means the TUN failed: logged, counted, and the TUN is no longer watched; any other
         * exception is logged (rate-limited) and counted, and the TUN stays watched.
         */
        boolean drain(Packet[] buffers) throws IOException;
    }

    private final String name;
    private final int epfd;
    private final int wakeFd;
    private final Packet[] buffers;
    /** The eventfd's count, read by the poller's thread to reset it. */
    private final byte[] wakeCount = new byte[8];
    private final Thread thread;
    /** Guards {@link #fdsClosed}: epoll_ctl and eventfd writes never reach a number closed (and reused) meanwhile. */
    private final Object fdLock = new Object();
    private boolean fdsClosed;
    private volatile boolean closing;
    private final AtomicLong nextId = new AtomicLong(WAKE + 1);
    private final ConcurrentHashMap<Long, Registration> byId = new ConcurrentHashMap<>();
    /** LinuxTun keeps Object's identity equals: one registration per TUN object. */
    private final ConcurrentHashMap<LinuxTun, Registration> byTun = new ConcurrentHashMap<>();
    /** TUNs closed while registered, for the poller thread to drain once more and forget. */
    private final ConcurrentLinkedQueue<Registration> closedTuns = new ConcurrentLinkedQueue<>();
    private final LongAdder drains = new LongAdder();
    private final LongAdder drainErrors = new LongAdder();
    private final LongAdder rounds = new LongAdder();

    /**
     * Starts the poller's thread, with {@code bufferCount} buffers of {@code bufferCapacity} bytes (32 of {@link
     * Packet#SUPER_CAPACITY} for TUNs with offloads; a read grows a buffer that is too small for its TUN).
     */
    public TunPoller(String name, int bufferCount, int bufferCapacity) throws IOException {
        Objects.requireNonNull(name, "name");
        if (bufferCount < 1) {
            throw new IllegalArgumentException("a poller needs at least one buffer, not " + bufferCount);
        }
        if (bufferCapacity <= Packet.HEADROOM + Packet.TAILROOM) {
            throw new IllegalArgumentException("a buffer of " + bufferCapacity + " bytes holds no packet behind "
                    + Packet.HEADROOM + " bytes of headroom and before " + Packet.TAILROOM + " of tailroom");
        }
        this.name = name;
        this.buffers = new Packet[bufferCount];
        for (int i = 0; i < bufferCount; i++) {
            buffers[i] = new Packet(new byte[bufferCapacity]);
        }
        int ep = Syscalls.epollCreate1(EpollEvent.EPOLL_CLOEXEC);
        if (ep < 0) {
            throw new IOException("epoll_create1: " + LibC.strerror(-ep) + " (errno " + -ep + ")");
        }
        int wake;
        try {
            wake = LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
        } catch (LastErrorException e) {
            LibC.close(ep);
            throw new IOException(LibC.error("eventfd", e));
        }
        int r = Syscalls.epollCtl(ep, EpollEvent.EPOLL_CTL_ADD, wake, EpollEvent.EPOLLIN, WAKE);
        if (r < 0) {
            LibC.close(wake);
            LibC.close(ep);
            throw new IOException("epoll_ctl ADD eventfd: " + LibC.strerror(-r) + " (errno " + -r + ")");
        }
        this.epfd = ep;
        this.wakeFd = wake;
        this.thread = Thread.ofPlatform().name(name.isEmpty() ? "wg-tun-poller" : "wg-tun-poller-" + name)
                .daemon(true).unstarted(this::run);
        thread.start();
    }

    /**
     * Watches {@code tun}: from now on {@code drain} is called on the poller's thread whenever the TUN is readable.
     * Should the TUN be closed while this runs, this may throw after the drain had its last call (seeing -1).
     *
     * @throws IOException when the TUN is closed, or epoll refuses it
     * @throws IllegalArgumentException when the TUN is registered already
     * @throws IllegalStateException when the poller is closed
     */
    public void add(LinuxTun tun, Drain drain) throws IOException {
        Objects.requireNonNull(tun, "tun");
        Objects.requireNonNull(drain, "drain");
        if (closing) {
            throw new IllegalStateException(this + " is closed");
        }
        Registration r = new Registration(nextId.getAndIncrement(), tun, drain);
        if (byTun.putIfAbsent(tun, r) != null) {
            throw new IllegalArgumentException(tun.name() + " is watched by " + this + " already");
        }
        byId.put(r.id, r);
        boolean added = false;
        try {
            // The listener first: a close between the two still reaches the poller.
            if (!tun.onClose(r.onClose)) {
                throw new IOException(tun.name() + " is closed");
            }
            synchronized (fdLock) {
                if (fdsClosed) {
                    throw new IllegalStateException(this + " is closed");
                }
                added = tun.withFd(fd -> {
                    int e = Syscalls.epollCtl(epfd, EpollEvent.EPOLL_CTL_ADD, fd, EpollEvent.EPOLLIN, r.id);
                    if (e < 0) {
                        throw new IOException(tun.name() + ": epoll_ctl ADD: " + LibC.strerror(-e) + " (errno "
                                + -e + ")");
                    }
                });
            }
            if (!added) {
                throw new IOException(tun.name() + " is closed");
            }
        } finally {
            if (!added) {
                unregister(r);
            }
        }
    }

    /**
     * Stops watching {@code tun}: once this returns, its drain is never called again. If the poller's thread is
     * in that drain right now, this waits for it to return, unless it is that thread calling (from a drain). False
     * when the TUN was not watched.
     */
    public boolean remove(LinuxTun tun) {
        Registration r = byTun.get(tun);
        return r != null && unregister(r);
    }

    /** How many TUNs are watched. */
    public int size() {
        return byTun.size();
    }

    public boolean contains(LinuxTun tun) {
        return byTun.containsKey(tun);
    }

    /** Drain calls that returned (true or false). */
    public long drains() {
        return drains.sum();
    }

    /** Drain calls that threw, all TUNs together (each TUN's first is logged, then at most one a minute). */
    public long drainErrors() {
        return drainErrors.sum();
    }

    /** {@code epoll_wait} calls that returned events. */
    public long rounds() {
        return rounds.sum();
    }

    /** The poller's thread, for tests. */
    Thread thread() {
        return thread;
    }

    /**
     * Stops the thread (after the drain under way, if any), waits for it, and closes the epoll and eventfd
     * descriptors; no drain is called afterwards. The TUNs stay open. Called from a drain, it returns at once and
     * the thread stops when that drain returns.
     */
    @Override
    public void close() {
        closing = true;
        wake();
        if (Thread.currentThread() == thread) {
            return;
        }
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                interrupted = true; // the thread stops within one drain: wait for it, so no drain runs after close
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String toString() {
        return "TunPoller[" + name + ", " + size() + " TUNs" + (closing ? ", closed" : "") + "]";
    }

    // ---- the poller's thread ----

    private void run() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment events = arena.allocate((long) EpollEvent.SIZE * MAX_EVENTS, 8);
            while (!closing) {
                int n = Syscalls.epollWait(epfd, events, MAX_EVENTS, -1);
                if (n < 0) {
                    if (-n == LibC.EINTR) {
                        continue;
                    }
                    log.error("{}: epoll_wait failed, its {} TUNs are no longer read: {} (errno {})", this, size(),
                            LibC.strerror(-n), -n);
                    return;
                }
                rounds.increment();
                for (int i = 0; i < n && !closing; i++) {
                    long id = EpollEvent.data(events, i);
                    if (id == WAKE) {
                        serveWake();
                        continue;
                    }
                    Registration r = byId.get(id);
                    if (r != null) { // null: removed since epoll_wait returned
                        serve(r);
                    }
                }
            }
        } catch (Throwable e) {
            log.error("{}: the poller's thread failed, its {} TUNs are no longer read", this, size(), e);
        } finally {
            closing = true;
            synchronized (fdLock) {
                fdsClosed = true;
                LibC.close(epfd);
                LibC.close(wakeFd);
            }
            for (Registration r : byId.values()) {
                unregister(r);
            }
        }
    }

    /** One drain call, unless the TUN was removed; a false or an IOException stops watching it. */
    private void serve(Registration r) {
        boolean keep;
        synchronized (r) { // remove() waits on this while the drain runs
            if (r.removed) {
                return;
            }
            try {
                keep = r.drain.drain(buffers);
                drains.increment();
            } catch (IOException e) {
                drainErrors.increment();
                log.warn("{}: reading {} failed, no longer watching it: {}", this, r.tun.name(), e.toString());
                keep = false;
            } catch (Throwable e) {
                failed(r, e);
                keep = true;
            }
        }
        if (!keep) {
            unregister(r);
        }
    }

    /** Counts a drain's failure; logs the first of each TUN, and then at most one a minute with the count. */
    private void failed(Registration r, Throwable e) {
        drainErrors.increment();
        r.errors++;
        long now = System.nanoTime();
        if (r.errors == 1) {
            log.error("{}: draining {} failed (further failures logged at most once a minute)", this,
                    r.tun.name(), e);
            r.lastLogged = now;
        } else if (now - r.lastLogged >= ERROR_LOG_INTERVAL_NANOS) {
            log.error("{}: draining {} failed again, {} failures in all: {}", this, r.tun.name(), r.errors,
                    e.toString());
            r.lastLogged = now;
        }
    }

    /** The eventfd: close, or TUNs closed while registered, which get a last drain (it reads -1) and go. */
    private void serveWake() {
        Syscalls.read(wakeFd, wakeCount, 0, wakeCount.length); // resets the count; EAGAIN when a second wake came first
        for (Registration r; (r = closedTuns.poll()) != null; ) {
            if (byId.get(r.id) == r) {
                serve(r);
                unregister(r);
            }
        }
    }

    // ---- registrations ----

    private void wake() {
        synchronized (fdLock) {
            if (!fdsClosed) {
                Syscalls.write(wakeFd, ONE, 0, ONE.length);
            }
        }
    }

    /**
     * Forgets {@code r} and takes its descriptor out of the epoll set (unless the TUN is closed: then the kernel did
     * so). Waits for a drain of it under way, unless called from within it. False when it was forgotten already.
     */
    private boolean unregister(Registration r) {
        synchronized (r) {
            if (r.removed) {
                return false;
            }
            r.removed = true;
        }
        byId.remove(r.id, r);
        byTun.remove(r.tun, r);
        r.tun.removeOnClose(r.onClose);
        try {
            synchronized (fdLock) {
                if (!fdsClosed) {
                    r.tun.withFd(fd -> {
                        int e = Syscalls.epollCtl(epfd, EpollEvent.EPOLL_CTL_DEL, fd, 0, 0);
                        if (e < 0 && -e != EpollEvent.ENOENT) { // ENOENT: add() failed before ADD
                            log.warn("{}: epoll_ctl DEL {}: {} (errno {})", this, r.tun.name(),
                                    LibC.strerror(-e), -e);
                        }
                    });
                }
            }
        } catch (IOException e) {
            throw new AssertionError("the DEL above throws nothing", e);
        }
        return true;
    }

    private final class Registration {
        final long id;
        final LinuxTun tun;
        final Drain drain;
        /** Given to {@link LinuxTun#onClose}: quick, and waits for nothing (the TUN's close runs it). */
        final Runnable onClose;
        /** Guarded by this, which the poller thread holds while the drain runs. */
        boolean removed;
        /** The poller thread's alone. */
        long errors;
        long lastLogged;

        Registration(long id, LinuxTun tun, Drain drain) {
            this.id = id;
            this.tun = tun;
            this.drain = drain;
            this.onClose = () -> {
                closedTuns.add(this);
                wake();
            };
        }
    }
}
