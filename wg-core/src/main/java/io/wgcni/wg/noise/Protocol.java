package io.wgcni.wg.noise;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * WireGuard's constants and message layouts, named as in the whitepaper (section 6.1 and 5.4). Every field of
 * every message is written down here once; the rest of the code reads and writes messages through these offsets.
 */
public final class Protocol {
    private Protocol() {}

    private static final long SECOND = 1_000_000_000L;

    public static final long REKEY_AFTER_MESSAGES = 1L << 60;
    /** 2^64 - 2^13 - 1, as an unsigned 64-bit value: compare with {@link Long#compareUnsigned}. */
    public static final long REJECT_AFTER_MESSAGES = 0xFFFF_FFFF_FFFF_DFFFL;
    public static final long REKEY_AFTER_TIME = 120 * SECOND;
    public static final long REJECT_AFTER_TIME = 180 * SECOND;
    public static final long REKEY_ATTEMPT_TIME = 90 * SECOND;
    public static final long REKEY_TIMEOUT = 5 * SECOND;
    public static final long REKEY_TIMEOUT_JITTER_MAX = 333_000_000L;
    public static final long KEEPALIVE_TIMEOUT = 10 * SECOND;
    public static final long COOKIE_REFRESH_TIME = 120 * SECOND;
    /** At most one initiation consumed per peer in this interval (the kernel's INITIATIONS_PER_SECOND = 50). */
    public static final long HANDSHAKE_INITIATION_RATE = SECOND / 50;
    public static final int MAX_TIMER_HANDSHAKES = (int) (REKEY_ATTEMPT_TIME / REKEY_TIMEOUT);

    public static final String CONSTRUCTION = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
    public static final String IDENTIFIER = "WireGuard v1 zx2c4 Jason@zx2c4.com";
    public static final String LABEL_MAC1 = "mac1----";
    public static final String LABEL_COOKIE = "cookie--";

    public static final int TYPE_INITIATION = 1;
    public static final int TYPE_RESPONSE = 2;
    public static final int TYPE_COOKIE_REPLY = 3;
    public static final int TYPE_DATA = 4;

    /** Curve25519 keys, ChaCha20-Poly1305 keys and the preshared key (Noise's DHLEN). */
    public static final int KEY_LENGTH = 32;
    /** BLAKE2s-256: the handshake hash and chaining key (Noise's HASHLEN). */
    public static final int HASH_LENGTH = 32;
    public static final int TAG_LENGTH = 16;
    public static final int TIMESTAMP_LENGTH = 12;
    public static final int MAC_LENGTH = 16;
    public static final int COOKIE_NONCE_LENGTH = 24;
    /** Data payloads are zero-padded to a multiple of this (whitepaper 5.4.6). */
    public static final int PADDING_MULTIPLE = 16;

    /** Handshake initiation: type, sender, ephemeral, AEAD(static), AEAD(timestamp), mac1, mac2. */
    public static final class Initiation {
        private Initiation() {}
        public static final int SENDER = 4;
        public static final int EPHEMERAL = 8;
        public static final int STATIC = EPHEMERAL + KEY_LENGTH;
        public static final int TIMESTAMP = STATIC + KEY_LENGTH + TAG_LENGTH;
        public static final int MAC1 = TIMESTAMP + TIMESTAMP_LENGTH + TAG_LENGTH;
        public static final int MAC2 = MAC1 + MAC_LENGTH;
        public static final int SIZE = MAC2 + MAC_LENGTH;
    }

    /** Handshake response: type, sender, receiver, ephemeral, AEAD(empty), mac1, mac2. */
    public static final class Response {
        private Response() {}
        public static final int SENDER = 4;
        public static final int RECEIVER = 8;
        public static final int EPHEMERAL = 12;
        public static final int EMPTY = EPHEMERAL + KEY_LENGTH;
        public static final int MAC1 = EMPTY + TAG_LENGTH;
        public static final int MAC2 = MAC1 + MAC_LENGTH;
        public static final int SIZE = MAC2 + MAC_LENGTH;
    }

    /** Cookie reply: type, receiver, nonce, XAEAD(cookie). */
    public static final class CookieReply {
        private CookieReply() {}
        public static final int RECEIVER = 4;
        public static final int NONCE = 8;
        public static final int COOKIE = NONCE + COOKIE_NONCE_LENGTH;
        public static final int SIZE = COOKIE + MAC_LENGTH + TAG_LENGTH;
    }

    /** Transport data: type, receiver, counter, AEAD(padded packet). */
    public static final class Data {
        private Data() {}
        public static final int RECEIVER = 4;
        public static final int COUNTER = 8;
        public static final int HEADER_SIZE = 16;
        /** A keepalive: header and the tag of an empty payload. */
        public static final int MIN_SIZE = HEADER_SIZE + TAG_LENGTH;
    }

    private static final VarHandle LE32 = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle LE64 = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    public static int getInt(byte[] b, int off) {
        return (int) LE32.get(b, off);
    }

    public static void putInt(byte[] b, int off, int v) {
        LE32.set(b, off, v);
    }

    public static long getLong(byte[] b, int off) {
        return (long) LE64.get(b, off);
    }

    public static void putLong(byte[] b, int off, long v) {
        LE64.set(b, off, v);
    }

    /**
     * The message type of a datagram, or 0 when its length cannot be that type. The type is a little-endian
     * 32-bit word whose three high bytes are reserved and must be zero.
     */
    /**
     * As {@link #messageType}, for what crosses an in-process hop unsealed (io.wgcni.wg.device.Hop): a data message
     * there is a header and the plain packet, with no tag, so a keepalive is the header alone.
     */
    public static int unsealedType(byte[] b, int off, int len) {
        if (len >= Data.HEADER_SIZE && getInt(b, off) == TYPE_DATA) {
            return TYPE_DATA;
        }
        return messageType(b, off, len);
    }

    public static int messageType(byte[] b, int off, int len) {
        if (len < 4) {
            return 0;
        }
        int type = getInt(b, off);
        return switch (type) {
            case TYPE_INITIATION -> len == Initiation.SIZE ? type : 0;
            case TYPE_RESPONSE -> len == Response.SIZE ? type : 0;
            case TYPE_COOKIE_REPLY -> len == CookieReply.SIZE ? type : 0;
            case TYPE_DATA -> len >= Data.MIN_SIZE ? type : 0;
            default -> 0;
        };
    }
}
