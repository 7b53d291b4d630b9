package io.wgcni.tun;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.DefaultMaxMessagesRecvByteBufAllocator;

/**
 * Hands every read of one epoll channel the same direct buffer, allocated once: the epoll transport hands each
 * read's datagrams on before the next read, and a {@link NettyBind} copies each one out and releases it at once, so
 * the buffer is free again by the next read. (NIO reads a burst before handing any on; it does not use this.)
 *
 * <p>Why not Netty's allocator: the read buffer must hold several datagrams of up to 64 KiB each (the recvmmsg
 * slots, a GRO train), and Netty 4.2's adaptive allocator does not pool buffers that large when the heap is small
 * (at most 512 MiB: nothing above 16,896 bytes is pooled then), nor above 1 MiB otherwise; a fresh allocation of
 * that size costs far more than the read. If a datagram of the previous read were still held (the reference count
 * says so), a read gets a fresh buffer from the channel's allocator instead, so sharing can never overwrite data.
 */
final class ReusedRecvByteBufAllocator extends DefaultMaxMessagesRecvByteBufAllocator {
    private final ByteBuf buffer;

    /** Allocates the shared buffer; {@link #release} frees it once the channel is closed. */
    ReusedRecvByteBufAllocator(int size, int maxMessagesPerRead) {
        super(maxMessagesPerRead);
        this.buffer = Unpooled.directBuffer(size, size);
    }

    /** References to the shared buffer: 1 between reads, 0 once released. */
    int refCnt() {
        return buffer.refCnt();
    }

    int size() {
        return buffer.capacity();
    }

    /** Drops this allocator's reference; the memory goes when no read still holds a slice of it. */
    void release() {
        buffer.release();
    }

    @Override
    @SuppressWarnings("deprecation")
    public Handle newHandle() {
        return new ReusingHandle();
    }

    private final class ReusingHandle extends MaxMessageHandle {
        @Override
        public ByteBuf allocate(ByteBufAllocator alloc) {
            if (buffer.refCnt() == 1) {
                // A duplicate shares the reference count: the read's slices and the duplicate itself are released
                // by the time the read is over, and the count is back at 1.
                return buffer.retainedDuplicate().clear();
            }
            return alloc.ioBuffer(buffer.capacity());
        }

        @Override
        public int guess() {
            return buffer.capacity();
        }
    }
}
