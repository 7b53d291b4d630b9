package io.wgcni.wg.crypto;

import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;

/**
 * A 32-byte WireGuard key: private, public or preshared. Immutable to callers (they get copies), compared in
 * constant time, and never printed: {@link #toString()} is redacted so a key cannot leak into a log by accident.
 */
public final class Key {
    public static final int LENGTH = 32;

    private final byte[] bytes;

    private Key(byte[] bytes) {
        this.bytes = bytes;
    }

    /** Wraps a copy of {@code bytes}, which must be exactly 32 bytes long. */
    public static Key of(byte[] bytes) {
        if (bytes.length != LENGTH) {
            throw new IllegalArgumentException("a key is 32 bytes, got " + bytes.length);
        }
        return new Key(bytes.clone());
    }

    public static Key zero() {
        return new Key(new byte[LENGTH]);
    }

    /** Parses the base64 form that {@code wg} prints (44 characters). */
    public static Key fromBase64(String text) {
        byte[] decoded;
        try {
            decoded = Base64.getDecoder().decode(text.strip());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("key is not valid base64");
        }
        if (decoded.length != LENGTH) {
            throw new IllegalArgumentException("key must decode to 32 bytes, got " + decoded.length);
        }
        return new Key(decoded);
    }

    /** Parses the 64-hex-digit form of the UAPI. */
    public static Key fromHex(String text) {
        if (text.length() != 2 * LENGTH) {
            throw new IllegalArgumentException("key must be 64 hex digits, got " + text.length() + " characters");
        }
        try {
            return new Key(HexFormat.of().parseHex(text));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("key is not valid hex");
        }
    }

    public byte[] bytes() {
        return bytes.clone();
    }

    /** The backing array itself, for this package's hot paths (X25519) that must not copy; never modify it. */
    byte[] unsafeBytes() {
        return bytes;
    }

    /** Copies the key into {@code dst} at {@code off} without allocating. */
    public void copyTo(byte[] dst, int off) {
        System.arraycopy(bytes, 0, dst, off, LENGTH);
    }

    public String toBase64() {
        return Base64.getEncoder().encodeToString(bytes);
    }

    public String toHex() {
        return HexFormat.of().formatHex(bytes);
    }

    public boolean isZero() {
        int acc = 0;
        for (byte b : bytes) {
            acc |= b;
        }
        return acc == 0;
    }

    /** Overwrites the key material with zeros; the key then compares equal to {@link #zero()}. */
    public void destroy() {
        Arrays.fill(bytes, (byte) 0);
    }

    /** A short, log-safe form of a <em>public</em> key, as wireguard-go prints peers: {@code abcd…wxyz}. */
    public String shortForm() {
        String b64 = toBase64();
        return b64.substring(0, 4) + "…" + b64.substring(39, 43);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Key other && MessageDigest.isEqual(bytes, other.bytes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bytes);
    }

    @Override
    public String toString() {
        return "Key[redacted]";
    }
}
