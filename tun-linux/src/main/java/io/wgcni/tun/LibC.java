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

    static final int EIO = 5;
    static final int EBADF = 9;
    static final int EPERM = 1;
    static final int EAFNOSUPPORT = 97;
    static final int EADDRINUSE = 98;
    static final int EADDRNOTAVAIL = 99;

    static final int AF_UNIX = 1;
    static final int AF_INET = 2;
    static final int AF_INET6 = 10;
    static final int SOCK_NONBLOCK = 0x800;
    static final int SOCK_DGRAM = 2;
    static final int SOCK_CLOEXEC = 0x80000;
    static final int SHUT_RDWR = 2;
    static final int MSG_WAITFORONE = 0x10000;

    // Socket options (asm-generic/socket.h, netinet/in.h, linux/udp.h).
    static final int SOL_SOCKET = 1;
    static final int SO_SNDBUF = 7;
    static final int SO_RCVBUF = 8;
    static final int SO_SNDBUFFORCE = 32;
    static final int SO_RCVBUFFORCE = 33;
    static final int SO_MARK = 36;
    static final int IPPROTO_IPV6 = 41;
    static final int IPV6_V6ONLY = 26;
    static final int SOL_UDP = 17;
    /** Send: the segment size of a GSO train (a {@code uint16_t} control message or a socket option). */
    static final int UDP_SEGMENT = 103;
    /** Receive: coalesce datagrams of a flow; each read then carries the segment size (an {@code int}). */
    static final int UDP_GRO = 104;

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
    /** Every packet read or written starts with a {@code struct virtio_net_hdr}: the offload metadata. */
    static final short IFF_VNET_HDR = 0x4000;
    /** {@code _IOW('T', 208, unsigned int)}: which offloads the TUN may hand us (the TUN_F_* bits). */
    static final long TUNSETOFFLOAD = 0x400454d0L;
    static final int TUN_F_CSUM = 0x01;
    static final int TUN_F_TSO4 = 0x02;
    static final int TUN_F_TSO6 = 0x04;
    static final int TUN_F_USO4 = 0x20;
    static final int TUN_F_USO6 = 0x40;
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
