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
 * The per-packet system calls, {@code read(2)} and {@code write(2)} straight on a packet's heap {@code byte[]}:
 * java.lang.foreign downcalls marked {@link Linker.Option#critical(boolean) critical(true)}, which lets the kernel
 * copy to and from the Java array itself (no direct buffer, no copy in Java, no JNI thread-state transition).
 * {@code errno} comes back through {@link Linker.Option#captureCallState}.
 *
 * <p>A critical call keeps its thread in the Java state, so no safepoint (no GC) can start until it returns: it must
 * never block. Callers use it only on file descriptors opened {@code O_NONBLOCK}. See the README for how this
 * compares with JNA and with {@code FileChannel}.
 */
final class Syscalls {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle READ = downcall("read");
    private static final MethodHandle WRITE = downcall("write");
    private static final ThreadLocal<MemorySegment> STATE =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE));

    /** {@code ssize_t name(int fd, void *buf, size_t count)}, critical, capturing errno. */
    @SuppressWarnings("restricted") // native access: the JVM needs --enable-native-access (see the README)
    private static MethodHandle downcall(String name) {
        FunctionDescriptor rw = FunctionDescriptor.of(ValueLayout.JAVA_LONG,
                ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG);
        return LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow(name), rw,
                Linker.Option.critical(true), Linker.Option.captureCallState("errno"));
    }

    private Syscalls() {
    }

    /**
     * {@code read(fd, buf + off, len)}: the byte count, or {@code -errno}. On a blocking descriptor this would stall
     * every safepoint; use non-blocking ones only.
     */
    static long read(int fd, byte[] buf, int off, int len) {
        java.util.Objects.checkFromIndexSize(off, len, buf.length);
        MemorySegment state = STATE.get();
        long n;
        try {
            n = (long) READ.invokeExact(state, fd, MemorySegment.ofArray(buf).asSlice(off, len), (long) len);
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
        return n >= 0 ? n : -(int) ERRNO.get(state, 0L);
    }

    /** {@code write(fd, buf + off, len)}: the byte count, or {@code -errno}. Non-blocking descriptors only. */
    static long write(int fd, byte[] buf, int off, int len) {
        java.util.Objects.checkFromIndexSize(off, len, buf.length);
        MemorySegment state = STATE.get();
        long n;
        try {
            n = (long) WRITE.invokeExact(state, fd, MemorySegment.ofArray(buf).asSlice(off, len), (long) len);
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
        return n >= 0 ? n : -(int) ERRNO.get(state, 0L);
    }
}
