package io.wgcni.tun;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The data path's system calls, through java.lang.foreign, each returning its result or {@code -errno}
 * ({@link Linker.Option#captureCallState}):
 *
 * <ul>
 * <li>{@code read(2)} and {@code write(2)} straight on a packet's heap {@code byte[]}: downcalls marked {@link
 * Linker.Option#critical(boolean) critical(true)}, which lets the kernel copy to and from the Java array itself (no
 * direct buffer, no copy in Java, no JNI thread-state transition). A critical call keeps its thread in the Java
 * state, so no safepoint (no GC) can start until it returns: it must never block, so callers use it only on file
 * descriptors opened {@code O_NONBLOCK}.
 * <li>epoll ({@code epoll_create1}, {@code epoll_ctl}, {@code epoll_wait}) for {@link TunPoller}, ordinary
 * downcalls too: {@code epoll_wait} blocks.
 * <li>the UDP socket's calls ({@code socket}, {@code bind}, {@code setsockopt}, {@code recvmmsg}, {@code sendmmsg}
 * ...) on native memory: ordinary downcalls, which may block (a receive waits for datagrams, a send for room in the
 * socket buffer) while the rest of the JVM carries on.
 * </ul>
 * See the README for how these compare with JNA and with {@code FileChannel}.
 */
final class Syscalls {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG;
    private static final ValueLayout PTR = ValueLayout.ADDRESS;

    private static final MethodHandle READ = critical("read", FunctionDescriptor.of(LONG, INT, PTR, LONG));
    private static final MethodHandle WRITE = critical("write", FunctionDescriptor.of(LONG, INT, PTR, LONG));
    private static final MethodHandle SOCKET = blocking("socket", FunctionDescriptor.of(INT, INT, INT, INT));
    private static final MethodHandle BIND = blocking("bind", FunctionDescriptor.of(INT, INT, PTR, INT));
    private static final MethodHandle SETSOCKOPT =
            blocking("setsockopt", FunctionDescriptor.of(INT, INT, INT, INT, PTR, INT));
    private static final MethodHandle GETSOCKOPT =
            blocking("getsockopt", FunctionDescriptor.of(INT, INT, INT, INT, PTR, PTR));
    private static final MethodHandle GETSOCKNAME = blocking("getsockname", FunctionDescriptor.of(INT, INT, PTR, PTR));
    private static final MethodHandle RECVMMSG =
            blocking("recvmmsg", FunctionDescriptor.of(INT, INT, PTR, INT, INT, PTR));
    private static final MethodHandle SENDMMSG = blocking("sendmmsg", FunctionDescriptor.of(INT, INT, PTR, INT, INT));
    private static final MethodHandle SOCKETPAIR =
            blocking("socketpair", FunctionDescriptor.of(INT, INT, INT, INT, PTR));
    private static final MethodHandle SHUTDOWN = blocking("shutdown", FunctionDescriptor.of(INT, INT, INT));
    private static final MethodHandle CLOSE = blocking("close", FunctionDescriptor.of(INT, INT));
    private static final MethodHandle EPOLL_CREATE1 = blocking("epoll_create1", FunctionDescriptor.of(INT, INT));
    private static final MethodHandle EPOLL_CTL =
            blocking("epoll_ctl", FunctionDescriptor.of(INT, INT, INT, INT, PTR));
    private static final MethodHandle EPOLL_WAIT =
            blocking("epoll_wait", FunctionDescriptor.of(INT, INT, PTR, INT, INT));

    private static final ThreadLocal<MemorySegment> STATE =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE));

    private Syscalls() {
    }

    @SuppressWarnings("restricted") // native access: the JVM needs --enable-native-access (see the README)
    private static MethodHandle critical(String name, FunctionDescriptor fd) {
        return LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow(name), fd,
                Linker.Option.critical(true), Linker.Option.captureCallState("errno"));
    }

    @SuppressWarnings("restricted")
    private static MethodHandle blocking(String name, FunctionDescriptor fd) {
        return LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow(name), fd,
                Linker.Option.captureCallState("errno"));
    }

    private static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }

    private static IllegalStateException linkage(Throwable e) {
        return new IllegalStateException("native call failed to link or run", e);
    }

    /** {@code read(fd, buf + off, len)} on a non-blocking descriptor: the byte count, or {@code -errno}. */
    static long read(int fd, byte[] buf, int off, int len) {
        java.util.Objects.checkFromIndexSize(off, len, buf.length);
        MemorySegment state = STATE.get();
        long n;
        try {
            n = (long) READ.invokeExact(state, fd, MemorySegment.ofArray(buf).asSlice(off, len), (long) len);
        } catch (Throwable e) {
            throw linkage(e);
        }
        return n >= 0 ? n : -errno(state);
    }

    /** {@code write(fd, buf + off, len)} on a non-blocking descriptor: the byte count, or {@code -errno}. */
    static long write(int fd, byte[] buf, int off, int len) {
        java.util.Objects.checkFromIndexSize(off, len, buf.length);
        MemorySegment state = STATE.get();
        long n;
        try {
            n = (long) WRITE.invokeExact(state, fd, MemorySegment.ofArray(buf).asSlice(off, len), (long) len);
        } catch (Throwable e) {
            throw linkage(e);
        }
        return n >= 0 ? n : -errno(state);
    }

    static int socket(int domain, int type, int protocol) {
        MemorySegment state = STATE.get();
        try {
            int r = (int) SOCKET.invokeExact(state, domain, type, protocol);
            return r >= 0 ? r : -errno(state);
        } catch (Throwable e) {
            throw linkage(e);
        }
    }

    /** {@code socketpair(domain, type, protocol, sv)}: the two descriptors, or null (errno lost: rare). */
    static int[] socketpair(int domain, int type, int protocol) {
        MemorySegment state = STATE.get();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sv = arena.allocate(INT, 2);
            int r = (int) SOCKETPAIR.invokeExact(state, domain, type, protocol, sv);
            return r < 0 ? null : new int[] {sv.getAtIndex(INT, 0), sv.getAtIndex(INT, 1)};
        } catch (Throwable e) {
            throw linkage(e);
        }
    }

    static int bind(int fd, MemorySegment addr, int len) {
        MemorySegment state = STATE.get();
        try {
            int r = (int) BIND.invokeExact(state, fd, addr, len);
            return r >= 0 ? r : -errno(state);
        } catch (Throwable e) {
            throw linkage(e);
        }
    }

    /** {@code setsockopt} with an {@code int} value: 0, or {@code -errno}. */
    static int setsockopt(int fd, int level, int name, int value) {
        MemorySegment state = STATE.get();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment v = arena.allocateFrom(INT, value);
            int r = (int) SETSOCKOPT.invokeExact(state, fd, level, name, v, 4);
            return r >= 0 ? 0 : -errno(state);
        } catch (Throwable e) {
            throw linkage(e);
        }
    }

    /** {@code getsockopt} of an {@code int}: its value (non-negative), or {@code -errno}. */
    static int getsockopt(int fd, int level, int name) {
        MemorySegment state = STATE.get();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment v = arena.allocate(INT);
            MemorySegment len = arena.allocateFrom(INT, 4);
            int r = (int) GETSOCKOPT.invokeExact(state, fd, level, name, v, len);
            return r >= 0 ? v.get(INT, 0) : -errno(state);
        } catch (Throwable e) {
            throw linkage(e);
        }
    }

    /** {@code getsockname} into {@code addr} (capacity {@code addr.byteSize()}): 0, or {@code -errno}. */
    static int getsockname(int fd, MemorySegment addr) {
        MemorySegment state = STATE.get();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment len = arena.allocateFrom(INT, (int) addr.byteSize());
            int r = (int) GETSOCKNAME.invokeExact(state, fd, addr, len);
            return r >= 0 ? 0 : -errno(state);
        } catch (Throwable e) {
            throw linkage(e);
        }
    }

    /** {@code recvmmsg(fd, msgs, vlen, flags, NULL)}: the number of messages, or {@code -errno}. May block. */
    static int recvmmsg(int fd, MemorySegment msgs, int vlen, int flags) {
        MemorySegment state = STATE.get();
        try {
            int r = (int) RECVMMSG.invokeExact(state, fd, msgs, vlen, flags, MemorySegment.NULL);
            return r >= 0 ? r : -errno(state);
        } catch (Throwable e) {
            throw linkage(e);
        }
    }

    /** {@code sendmmsg(fd, msgs, vlen, flags)}: the number of messages sent, or {@code -errno}. May block. */
    static int sendmmsg(int fd, MemorySegment msgs, int vlen, int flags) {
        MemorySegment state = STATE.get();
        try {
            int r = (int) SENDMMSG.invokeExact(state, fd, msgs, vlen, flags);
            return r >= 0 ? r : -errno(state);
        } catch (Throwable e) {
            throw linkage(e);
        }
    }

    static int shutdown(int fd, int how) {
        MemorySegment state = STATE.get();
        try {
            int r = (int) SHUTDOWN.invokeExact(state, fd, how);
            return r >= 0 ? r : -errno(state);
        } catch (Throwable e) {
            throw linkage(e);
        }
    }

    static int close(int fd) {
        MemorySegment state = STATE.get();
        try {
            int r = (int) CLOSE.invokeExact(state, fd);
            return r >= 0 ? r : -errno(state);
        } catch (Throwable e) {
            throw linkage(e);
        }
    }

    /** {@code epoll_create1(flags)}: the epoll descriptor, or {@code -errno}. */
    static int epollCreate1(int flags) {
        MemorySegment state = STATE.get();
        try {
            int r = (int) EPOLL_CREATE1.invokeExact(state, flags);
            return r >= 0 ? r : -errno(state);
        } catch (Throwable e) {
            throw linkage(e);
        }
    }

    /** {@code epoll_ctl(epfd, op, fd, {events, data})} ({@link EpollEvent}): 0, or {@code -errno}. */
    static int epollCtl(int epfd, int op, int fd, int events, long data) {
        MemorySegment state = STATE.get();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment event = arena.allocate(EpollEvent.SIZE, 8);
            EpollEvent.set(event, 0, events, data);
            int r = (int) EPOLL_CTL.invokeExact(state, epfd, op, fd, event);
            return r >= 0 ? 0 : -errno(state);
        } catch (Throwable e) {
            throw linkage(e);
        }
    }

    /**
     * {@code epoll_wait(epfd, events, max, timeoutMillis)} into an array of {@link EpollEvent#SIZE}-byte structs:
     * how many are ready, or {@code -errno}. Blocks up to {@code timeoutMillis} (-1: until one is).
     */
    static int epollWait(int epfd, MemorySegment events, int max, int timeoutMillis) {
        if (events.byteSize() < (long) max * EpollEvent.SIZE) {
            throw new IllegalArgumentException(
                    "room for " + events.byteSize() / EpollEvent.SIZE + " events, not " + max);
        }
        MemorySegment state = STATE.get();
        try {
            int r = (int) EPOLL_WAIT.invokeExact(state, epfd, events, max, timeoutMillis);
            return r >= 0 ? r : -errno(state);
        } catch (Throwable e) {
            throw linkage(e);
        }
    }
}
