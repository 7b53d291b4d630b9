package io.wgcni.tun;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.sun.jna.Native;
import org.junit.jupiter.api.Test;

class LibCTest {
    private static final int EBADF = 9;

    @Test
    void directMappedCallsLeaveErrnoForGetLastError() {
        assertEquals(-1, LibC.write(-1, new byte[1], 1));
        assertEquals(EBADF, Native.getLastError());
        assertEquals(-1, LibC.poll(new int[] {-1, LibC.POLLIN}, 1, 0) - 1, "poll ignores a negative fd");
    }

    @Test
    void foreignCallsReturnMinusErrno() {
        assertEquals(-EBADF, Syscalls.read(-1, new byte[8], 2, 4));
        assertEquals(-EBADF, Syscalls.write(-1, new byte[8], 2, 4));
    }
}
