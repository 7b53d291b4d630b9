package io.wgcni.wg.noise;

import static io.wgcni.wg.noise.Protocol.HASH_LENGTH;
import static io.wgcni.wg.noise.Protocol.KEY_LENGTH;

import io.wgcni.wg.crypto.Blake2s;
import io.wgcni.wg.crypto.ChaChaPoly;
import io.wgcni.wg.crypto.ConstantTime;
import io.wgcni.wg.crypto.Kdf;
import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.crypto.Tai64n;
import io.wgcni.wg.crypto.X25519;
import io.wgcni.wg.noise.Handshake.State;
import io.wgcni.wg.noise.Protocol.Initiation;
import io.wgcni.wg.noise.Protocol.Response;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.function.Function;

/**
 * Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s as WireGuard uses it (whitepaper 5.4.2-5.4.5). Each method is one step
 * of the state machine, in the order of a handshake: {@link #createInitiation}, {@link #consumeInitiation},
 * {@link #createResponse}, {@link #consumeResponse}, {@link #beginSession}. MACs are added and checked by the
 * cookie classes; indexes are chosen by the caller.
 */
public final class Noise {
    private Noise() {}

    static final byte[] INITIAL_CHAIN_KEY = new byte[HASH_LENGTH];
    static final byte[] INITIAL_HASH = new byte[HASH_LENGTH];

    static {
        Blake2s.hash(INITIAL_CHAIN_KEY, Protocol.CONSTRUCTION.getBytes(StandardCharsets.US_ASCII));
        Blake2s.hash(INITIAL_HASH, INITIAL_CHAIN_KEY, Protocol.IDENTIFIER.getBytes(StandardCharsets.US_ASCII));
    }

    public static byte[] initialChainKey() {
        return INITIAL_CHAIN_KEY.clone();
    }

    public static byte[] initialHash() {
        return INITIAL_HASH.clone();
    }

    /** Writes an initiation without its MACs into {@code out[off, off + 116)}. */
    public static boolean createInitiation(StaticIdentity local, Handshake hs, int senderIndex, long epochNanos,
                                           byte[] out, int off) {
        synchronized (hs) {
            if (ConstantTime.isZero(hs.precomputedStaticStatic, 0, KEY_LENGTH)) {
                return false;
            }
            System.arraycopy(INITIAL_HASH, 0, hs.hash, 0, HASH_LENGTH);
            System.arraycopy(INITIAL_CHAIN_KEY, 0, hs.chainKey, 0, HASH_LENGTH);
            byte[] remoteStatic = hs.remoteStatic.bytes();
            mixHash(hs.hash, remoteStatic, 0, KEY_LENGTH);

            byte[] ephemeral = newEphemeral(hs.localEphemeral);
            Protocol.putInt(out, off, Protocol.TYPE_INITIATION);
            Protocol.putInt(out, off + Initiation.SENDER, senderIndex);
            System.arraycopy(ephemeral, 0, out, off + Initiation.EPHEMERAL, KEY_LENGTH);
            mixKey(hs.chainKey, ephemeral);
            mixHash(hs.hash, ephemeral, 0, KEY_LENGTH);

            byte[] key = new byte[KEY_LENGTH];
            byte[] ss = new byte[KEY_LENGTH];
            try {
                if (!X25519.sharedSecret(ss, hs.localEphemeral, remoteStatic)) {
                    return false;
                }
                Kdf.kdf2(hs.chainKey, key, hs.chainKey, ss);
                seal(key, local.publicKey().bytes(), hs.hash, out, off + Initiation.STATIC);
                mixHash(hs.hash, out, off + Initiation.STATIC, KEY_LENGTH + Protocol.TAG_LENGTH);

                Kdf.kdf2(hs.chainKey, key, hs.chainKey, hs.precomputedStaticStatic);
                byte[] timestamp = new byte[Protocol.TIMESTAMP_LENGTH];
                Tai64n.write(timestamp, 0, epochNanos);
                seal(key, timestamp, hs.hash, out, off + Initiation.TIMESTAMP);
                mixHash(hs.hash, out, off + Initiation.TIMESTAMP, Protocol.TIMESTAMP_LENGTH + Protocol.TAG_LENGTH);
            } finally {
                Arrays.fill(key, (byte) 0);
                Arrays.fill(ss, (byte) 0);
            }
            hs.localIndex = senderIndex;
            hs.state = State.INITIATION_CREATED;
            return true;
        }
    }

    /**
     * Authenticates an initiation (MAC1 already checked) and returns the handshake of the peer that sent it, or
     * null: unknown peer, bad AEAD, replayed timestamp, or more than one initiation per
     * {@link Protocol#HANDSHAKE_INITIATION_RATE} from that peer.
     */
    public static Handshake consumeInitiation(StaticIdentity local, byte[] msg, int off,
                                              Function<Key, Handshake> peers, long now) {
        if (local == null) {
            return null;
        }
        byte[] hash = INITIAL_HASH.clone();
        byte[] chainKey = INITIAL_CHAIN_KEY.clone();
        byte[] key = new byte[KEY_LENGTH];
        byte[] ss = new byte[KEY_LENGTH];
        try {
            mixHash(hash, local.publicKey().bytes(), 0, KEY_LENGTH);
            byte[] ephemeral = Arrays.copyOfRange(msg, off + Initiation.EPHEMERAL,
                    off + Initiation.EPHEMERAL + KEY_LENGTH);
            mixHash(hash, ephemeral, 0, KEY_LENGTH);
            mixKey(chainKey, ephemeral);

            if (!X25519.sharedSecret(ss, local.privateKey(), Key.of(ephemeral))) {
                return null;
            }
            Kdf.kdf2(chainKey, key, chainKey, ss);
            byte[] peerStatic = open(key, msg, off + Initiation.STATIC, KEY_LENGTH, hash);
            if (peerStatic == null) {
                return null;
            }
            mixHash(hash, msg, off + Initiation.STATIC, KEY_LENGTH + Protocol.TAG_LENGTH);

            Handshake hs = peers.apply(Key.of(peerStatic));
            if (hs == null) {
                return null;
            }
            synchronized (hs) {
                if (ConstantTime.isZero(hs.precomputedStaticStatic, 0, KEY_LENGTH)) {
                    return null;
                }
                Kdf.kdf2(chainKey, key, chainKey, hs.precomputedStaticStatic);
                byte[] timestamp = open(key, msg, off + Initiation.TIMESTAMP, Protocol.TIMESTAMP_LENGTH, hash);
                if (timestamp == null) {
                    return null;
                }
                mixHash(hash, msg, off + Initiation.TIMESTAMP, Protocol.TIMESTAMP_LENGTH + Protocol.TAG_LENGTH);

                boolean replay = Tai64n.compare(timestamp, 0, hs.lastTimestamp, 0) <= 0;
                boolean flood = hs.consumedAnInitiation
                        && now - hs.lastInitiationConsumption <= Protocol.HANDSHAKE_INITIATION_RATE;
                if (replay || flood) {
                    return null;
                }
                System.arraycopy(hash, 0, hs.hash, 0, HASH_LENGTH);
                System.arraycopy(chainKey, 0, hs.chainKey, 0, HASH_LENGTH);
                System.arraycopy(ephemeral, 0, hs.remoteEphemeral, 0, KEY_LENGTH);
                System.arraycopy(timestamp, 0, hs.lastTimestamp, 0, Protocol.TIMESTAMP_LENGTH);
                hs.remoteIndex = Protocol.getInt(msg, off + Initiation.SENDER);
                hs.consumedAnInitiation = true;
                hs.lastInitiationConsumption = now;
                hs.state = State.INITIATION_CONSUMED;
                return hs;
            }
        } finally {
            Arrays.fill(hash, (byte) 0);
            Arrays.fill(chainKey, (byte) 0);
            Arrays.fill(key, (byte) 0);
            Arrays.fill(ss, (byte) 0);
        }
    }

    /** Writes a response without its MACs into {@code out[off, off + 60)}, after a consumed initiation. */
    public static boolean createResponse(Handshake hs, int senderIndex, long now, byte[] out, int off) {
        synchronized (hs) {
            if (hs.state != State.INITIATION_CONSUMED) {
                return false;
            }
            Protocol.putInt(out, off, Protocol.TYPE_RESPONSE);
            Protocol.putInt(out, off + Response.SENDER, senderIndex);
            Protocol.putInt(out, off + Response.RECEIVER, hs.remoteIndex);

            byte[] ephemeral = newEphemeral(hs.localEphemeral);
            System.arraycopy(ephemeral, 0, out, off + Response.EPHEMERAL, KEY_LENGTH);
            mixHash(hs.hash, ephemeral, 0, KEY_LENGTH);
            mixKey(hs.chainKey, ephemeral);

            byte[] ss = new byte[KEY_LENGTH];
            byte[] tau = new byte[HASH_LENGTH];
            byte[] key = new byte[KEY_LENGTH];
            try {
                if (!X25519.sharedSecret(ss, hs.localEphemeral, hs.remoteEphemeral)) {
                    return false;
                }
                mixKey(hs.chainKey, ss);
                if (!X25519.sharedSecret(ss, hs.localEphemeral, hs.remoteStatic.bytes())) {
                    return false;
                }
                mixKey(hs.chainKey, ss);
                Kdf.kdf3(hs.chainKey, tau, key, hs.chainKey, hs.presharedKey);
                mixHash(hs.hash, tau, 0, HASH_LENGTH);
                seal(key, new byte[0], hs.hash, out, off + Response.EMPTY);
                mixHash(hs.hash, out, off + Response.EMPTY, Protocol.TAG_LENGTH);
            } finally {
                Arrays.fill(ss, (byte) 0);
                Arrays.fill(tau, (byte) 0);
                Arrays.fill(key, (byte) 0);
            }
            hs.localIndex = senderIndex;
            hs.markSent(now);
            hs.state = State.RESPONSE_CREATED;
            return true;
        }
    }

    /**
     * Authenticates a response (MAC1 already checked) to the initiation this handshake sent; the caller found
     * {@code hs} by the response's receiver index.
     */
    public static boolean consumeResponse(StaticIdentity local, Handshake hs, byte[] msg, int off) {
        if (local == null) {
            return false;
        }
        synchronized (hs) {
            if (hs.state != State.INITIATION_CREATED) {
                return false;
            }
            byte[] hash = hs.hash.clone();
            byte[] chainKey = hs.chainKey.clone();
            byte[] ss = new byte[KEY_LENGTH];
            byte[] tau = new byte[HASH_LENGTH];
            byte[] key = new byte[KEY_LENGTH];
            try {
                byte[] ephemeral = Arrays.copyOfRange(msg, off + Response.EPHEMERAL,
                        off + Response.EPHEMERAL + KEY_LENGTH);
                mixHash(hash, ephemeral, 0, KEY_LENGTH);
                mixKey(chainKey, ephemeral);
                if (!X25519.sharedSecret(ss, hs.localEphemeral, ephemeral)) {
                    return false;
                }
                mixKey(chainKey, ss);
                if (!X25519.sharedSecret(ss, local.privateKey(), Key.of(ephemeral))) {
                    return false;
                }
                mixKey(chainKey, ss);
                Kdf.kdf3(chainKey, tau, key, chainKey, hs.presharedKey);
                mixHash(hash, tau, 0, HASH_LENGTH);
                if (open(key, msg, off + Response.EMPTY, 0, hash) == null) {
                    return false;
                }
                mixHash(hash, msg, off + Response.EMPTY, Protocol.TAG_LENGTH);

                System.arraycopy(hash, 0, hs.hash, 0, HASH_LENGTH);
                System.arraycopy(chainKey, 0, hs.chainKey, 0, HASH_LENGTH);
                hs.remoteIndex = Protocol.getInt(msg, off + Response.SENDER);
                hs.state = State.RESPONSE_CONSUMED;
                return true;
            } finally {
                Arrays.fill(hash, (byte) 0);
                Arrays.fill(chainKey, (byte) 0);
                Arrays.fill(ss, (byte) 0);
                Arrays.fill(tau, (byte) 0);
                Arrays.fill(key, (byte) 0);
            }
        }
    }

    /**
     * Derives the transport keys from a completed handshake (initiator after consuming the response, responder
     * after creating it) and zeroes the handshake. Returns null when the handshake is in no such state.
     */
    public static Keypair beginSession(Handshake hs, long now) {
        synchronized (hs) {
            byte[] first = new byte[KEY_LENGTH];
            byte[] second = new byte[KEY_LENGTH];
            boolean initiator;
            if (hs.state == State.RESPONSE_CONSUMED) {
                initiator = true;
            } else if (hs.state == State.RESPONSE_CREATED) {
                initiator = false;
            } else {
                return null;
            }
            Kdf.kdf2(first, second, hs.chainKey, new byte[0]);
            Keypair keypair = initiator
                ? new Keypair(first, second, initiator, hs.localIndex, hs.remoteIndex, now)
                : new Keypair(second, first, initiator, hs.localIndex, hs.remoteIndex, now);
            Arrays.fill(first, (byte) 0);
            Arrays.fill(second, (byte) 0);
            // The handshake's index now names the session; a new handshake must not remove it.
            hs.clear();
            return keypair;
        }
    }

    private static byte[] newEphemeral(byte[] privateOut) {
        Key ephemeral = X25519.generatePrivateKey();
        ephemeral.copyTo(privateOut, 0);
        Key pub = X25519.publicKey(ephemeral);
        ephemeral.destroy();
        return pub.bytes();
    }

    private static void mixHash(byte[] hash, byte[] data, int off, int len) {
        new Blake2s(HASH_LENGTH).update(hash).update(data, off, len).digest(hash, 0);
    }

    private static void mixKey(byte[] chainKey, byte[] input) {
        Kdf.kdf1(chainKey, chainKey, input);
    }

    private static void seal(byte[] key, byte[] plaintext, byte[] ad, byte[] out, int off) {
        byte[] sealed = ChaChaPoly.seal(key, 0, plaintext, ad);
        System.arraycopy(sealed, 0, out, off, sealed.length);
    }

    private static byte[] open(byte[] key, byte[] msg, int off, int plaintextLen, byte[] ad) {
        byte[] sealed = Arrays.copyOfRange(msg, off, off + plaintextLen + Protocol.TAG_LENGTH);
        return ChaChaPoly.open(key, 0, sealed, ad);
    }
}
