package io.wgcni.tun;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/** struct epoll_event as {@link EpollEvent} lays it out, checked against the running kernel (no root needed). */
class EpollEventTest {

    @Test
    void theLayoutIsPackedOnX86_64Only() {
        assertTrue(EpollEvent.isX86_64("amd64"));
        assertTrue(EpollEvent.isX86_64("x86_64"));
        assertEquals(false, EpollEvent.isX86_64("aarch64"));
        if (EpollEvent.PACKED) {
            assertEquals(12, EpollEvent.SIZE);
            assertEquals(4, EpollEvent.DATA);
        } else {
            assertEquals(16, EpollEvent.SIZE);
            assertEquals(8, EpollEvent.DATA);
        }
    }

    /** The kernel fills the array at the stride and offsets named: a wrong layout reads back another data. */
    @Test
    void epollWaitReportsEachDescriptorWithItsDataWhereTheLayoutSays() throws Exception {
        int ep = Syscalls.epollCreate1(EpollEvent.EPOLL_CLOEXEC);
        assertTrue(ep >= 0, "epoll_create1: " + ep);
        int[] fds = {LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK),
                LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK),
                LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK)};
        long[] data = {0x1122334455667788L, 0x8877665544332211L, -2L};
        byte[] one = {1, 0, 0, 0, 0, 0, 0, 0};
        try (Arena arena = Arena.ofConfined()) {
            for (int i = 0; i < fds.length; i++) {
                assertEquals(0, Syscalls.epollCtl(ep, EpollEvent.EPOLL_CTL_ADD, fds[i], EpollEvent.EPOLLIN, data[i]));
                assertEquals(8, Syscalls.write(fds[i], one, 0, one.length));
            }
            MemorySegment events = arena.allocate((long) EpollEvent.SIZE * 4, 8);
            int n = Syscalls.epollWait(ep, events, 4, 1000);
            assertEquals(3, n);
            java.util.Set<Long> seen = new java.util.HashSet<>();
            for (int i = 0; i < n; i++) {
                assertEquals(EpollEvent.EPOLLIN, EpollEvent.events(events, i));
                seen.add(EpollEvent.data(events, i));
            }
            assertEquals(java.util.Set.of(data[0], data[1], data[2]), seen);

            assertEquals(0, Syscalls.epollCtl(ep, EpollEvent.EPOLL_CTL_DEL, fds[1], 0, 0));
            assertEquals(-EpollEvent.ENOENT, Syscalls.epollCtl(ep, EpollEvent.EPOLL_CTL_DEL, fds[1], 0, 0));
            n = Syscalls.epollWait(ep, events, 4, 1000); // level-triggered: the other two are still readable
            assertEquals(2, n);
        } finally {
            for (int fd : fds) {
                LibC.close(fd);
            }
            LibC.close(ep);
        }
    }
}
