package io.wgcni.wg.crypto;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ConstantTimeTest {
    @Test
    void equalsComparesTheRangesOnly() {
        byte[] a = {9, 1, 2, 3, 4};
        byte[] b = {1, 2, 3, 4, 7, 7};
        assertTrue(ConstantTime.equals(a, 1, b, 0, 4));
        assertFalse(ConstantTime.equals(a, 0, b, 0, 4));
        assertTrue(ConstantTime.equals(a, 0, b, 0, 0));
        byte[] c = {1, 2, 3, (byte) 0x84};
        assertFalse(ConstantTime.equals(b, 0, c, 0, 4), "a difference in the high bit of the last byte");
    }

    @Test
    void isZero() {
        assertTrue(ConstantTime.isZero(new byte[32], 0, 32));
        byte[] a = new byte[32];
        a[31] = (byte) 0x80;
        assertFalse(ConstantTime.isZero(a, 0, 32));
        assertTrue(ConstantTime.isZero(a, 0, 31));
        assertTrue(ConstantTime.isZero(a, 5, 0));
    }

    @Test
    void checksBounds() {
        assertThrows(IndexOutOfBoundsException.class, () -> ConstantTime.equals(new byte[4], 1, new byte[4], 0, 4));
        assertThrows(IndexOutOfBoundsException.class, () -> ConstantTime.isZero(new byte[4], 2, 3));
    }
}
