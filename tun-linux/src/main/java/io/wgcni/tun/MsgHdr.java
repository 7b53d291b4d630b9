package io.wgcni.tun;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * {@code struct mmsghdr}, {@code msghdr}, {@code iovec} and {@code cmsghdr} on LP64 Linux (x86_64 and aarch64
 * alike), named once for {@link GsoSender} and {@link GroReceiver}.
 */
final class MsgHdr {
    static final int NAME = 0;
    static final int NAMELEN = 8;
    static final int IOV = 16;
    static final int IOVLEN = 24;
    static final int CONTROL = 32;
    static final int CONTROLLEN = 40;
    /** {@code mmsghdr.msg_len}: what the call sent or received for this message. */
    static final int LEN = 56;
    static final int SIZE = 64;
    static final int IOVEC = 16;
    static final int CMSG_LEN = 0;
    static final int CMSG_LEVEL = 8;
    static final int CMSG_TYPE = 12;
    static final int CMSG_DATA = 16;
    /** CMSG_SPACE(sizeof(int)): room for UDP_GRO's int or UDP_SEGMENT's uint16_t. */
    static final int CMSG_SPACE = 24;
    /** Room for a {@code sockaddr_in6} ({@link SockAddr#SIZE}), aligned. */
    static final int NAME_STRIDE = 32;
    static final ValueLayout.OfLong SIZE_T = ValueLayout.JAVA_LONG;
    static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;

    private MsgHdr() {}

    /** Points message {@code msg} at one buffer ({@code iov} describes {@code data, length}) and a peer address. */
    static void point(MemorySegment msg, MemorySegment name, int nameLen, MemorySegment iov, MemorySegment data,
            long length) {
        iov.set(ValueLayout.ADDRESS, 0, data);
        iov.set(SIZE_T, 8, length);
        msg.set(ValueLayout.ADDRESS, NAME, name);
        msg.set(INT, NAMELEN, nameLen);
        msg.set(ValueLayout.ADDRESS, IOV, iov);
        msg.set(SIZE_T, IOVLEN, 1);
    }
}
