package io.wgcni.wg.crypto;

import java.util.Objects;

/**
 * Comparisons whose running time depends only on the length, never on the bytes: for MACs, tags and secrets,
 * where an early exit would tell an attacker how many leading bytes they guessed right.
 */
public final class ConstantTime {
    private ConstantTime() {
    }

    public static boolean equals(byte[] a, int aOff, byte[] b, int bOff, int len) {
        Objects.checkFromIndexSize(aOff, len, a.length);
        Objects.checkFromIndexSize(bOff, len, b.length);
        int diff = 0;
        for (int i = 0; i < len; i++) {
            diff |= a[aOff + i] ^ b[bOff + i];
        }
        return diff == 0;
    }

    public static boolean isZero(byte[] a, int off, int len) {
        Objects.checkFromIndexSize(off, len, a.length);
        int acc = 0;
        for (int i = 0; i < len; i++) {
            acc |= a[off + i];
        }
        return acc == 0;
    }
}
