package io.wgcni.tun;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;
import java.util.Map;

/**
 * The few libc calls the control path needs, JNA direct-mapped (a JNI stub per method, no reflection per call).
 * Methods that declare {@link LastErrorException} throw it with {@code errno} when the call fails; the others
 * return -1 and leave {@code errno} to {@link Native#getLastError()}.
 *
 * <p>Constants are Linux x86_64 and aarch64 (they are the same on both for everything here).
 */
final class LibC {
    static final int O_RDONLY = 0;
    static final int O_RDWR = 2;
    static final int O_NONBLOCK = 0x800;
    static final int O_CLOEXEC = 0x80000;

    static final int EINTR = 4;
    static final int EAGAIN = 11;
    /** A TUN descriptor whose interface was deleted. */
    static final int EBADFD = 77;

    static final int AF_INET = 2;
    static final int SOCK_DGRAM = 2;
    static final int SOCK_CLOEXEC = 0x80000;

    static final short POLLIN = 0x1;
    static final int EFD_NONBLOCK = 0x800;
    static final int EFD_CLOEXEC = 0x80000;

    static final int CLONE_NEWNET = 0x40000000;

    /** {@code _IOW('T', 202, int)}. */
    static final long TUNSETIFF = 0x400454caL;
    /** {@code _IOW('T', 203, int)}: the argument is the value itself, not a pointer. */
    static final long TUNSETPERSIST = 0x400454cbL;
    /** {@code _IOR('T', 210, unsigned int)}. */
    static final long TUNGETIFF = 0x800454d2L;
    /** {@code _IO(0xb7, 0x3)}: the type of namespace an nsfs descriptor refers to. */
    static final long NS_GET_NSTYPE = 0xb703L;
    static final long SIOCGIFMTU = 0x8921;
    static final long SIOCSIFMTU = 0x8922;
    static final short IFF_TUN = 0x0001;
    static final short IFF_NO_PI = 0x1000;
    static final short IFF_PERSIST = 0x0800;
    /** With TUNSETIFF: fail with EBUSY instead of attaching to an existing interface of that name. */
    static final short IFF_TUN_EXCL = (short) 0x8000;
    static final int EBUSY = 16;
    static final int EINVAL = 22;

    /** {@code IFNAMSIZ}: an interface name is at most 15 bytes and a NUL. */
    static final int IFNAMSIZ = 16;
    /** {@code sizeof(struct ifreq)} on 64-bit Linux. */
    static final int IFREQ_SIZE = 40;

    static {
        if (!Platform.isLinux()) {
            throw new UnsupportedOperationException("tun-linux needs Linux, not " + System.getProperty("os.name"));
        }
        Native.register(LibC.class, NativeLibrary.getInstance(Platform.C_LIBRARY_NAME,
                Map.of()));
    }

    private LibC() {
    }

    static native int open(String path, int flags) throws LastErrorException;

    static native int close(int fd);

    static native int ioctl(int fd, long request, byte[] arg) throws LastErrorException;

    /** An ioctl whose argument is a number ({@code TUNSETPERSIST}, {@code NS_GET_NSTYPE}). */
    static native int ioctl(int fd, long request, long arg) throws LastErrorException;

    static native int socket(int domain, int type, int protocol) throws LastErrorException;

    static native int setns(int fd, int nstype) throws LastErrorException;

    static native int eventfd(int initval, int flags) throws LastErrorException;

    /** {@code pollfd[]} packed as ints: {@code fd}, then {@code events | revents << 16} (little-endian). */
    static native int poll(int[] fds, long nfds, int timeout);

    static native long read(int fd, Pointer buf, long count);

    static native long write(int fd, Pointer buf, long count);

    static native long write(int fd, byte[] buf, long count);

    static native int fcntl(int fd, int cmd, int arg) throws LastErrorException;

    static native String strerror(int errnum);

    /** "name: message (errno N)" for the calling thread's {@code errno}, right after the failed call. */
    static String error(String what) {
        int errno = Native.getLastError();
        return what + ": " + strerror(errno) + " (errno " + errno + ")";
    }

    static String error(String what, LastErrorException e) {
        return what + ": " + strerror(e.getErrorCode()) + " (errno " + e.getErrorCode() + ")";
    }
}
