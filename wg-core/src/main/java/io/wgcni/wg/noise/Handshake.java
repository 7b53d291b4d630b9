package io.wgcni.wg.noise;

import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.crypto.X25519;
import java.util.Arrays;

/**
 * One peer's side of the Noise_IKpsk2 handshake: the transcript hash, the chaining key and the ephemeral keys of
 * the handshake in flight, plus what outlives it (the last timestamp seen, for replay protection). Guarded by its
 * own monitor; {@link Noise} holds it while it steps the state machine.
 */
public final class Handshake {

    public enum State { ZEROED, INITIATION_CREATED, INITIATION_CONSUMED, RESPONSE_CREATED, RESPONSE_CONSUMED }

    final Key remoteStatic;
    final byte[] precomputedStaticStatic = new byte[32];
    final byte[] presharedKey = new byte[32];
    final byte[] hash = new byte[32];
    final byte[] chainKey = new byte[32];
    final byte[] localEphemeral = new byte[32];
    final byte[] remoteEphemeral = new byte[32];
    final byte[] lastTimestamp = new byte[Protocol.TIMESTAMP_LENGTH];
    State state = State.ZEROED;
    int localIndex;
    int remoteIndex;
    boolean consumedAnInitiation;
    long lastInitiationConsumption;
    /** Monotonic time of the last initiation or response we sent, for REKEY_TIMEOUT pacing. */
    long lastSentHandshake;
    boolean sentAny;

    public Handshake(Key remoteStatic) {
        this.remoteStatic = remoteStatic;
    }

    public Key remoteStatic() {
        return remoteStatic;
    }

    public synchronized State state() {
        return state;
    }

    public synchronized int localIndex() {
        return localIndex;
    }

    /** Recomputes DH(local static, remote static), which both handshake directions need; zero if invalid. */
    public synchronized void precompute(StaticIdentity local) {
        if (local == null || !X25519.sharedSecret(precomputedStaticStatic, local.privateKey(), remoteStatic)) {
            Arrays.fill(precomputedStaticStatic, (byte) 0);
        }
    }

    public synchronized void setPresharedKey(Key psk) {
        if (psk == null) {
            Arrays.fill(presharedKey, (byte) 0);
        } else {
            psk.copyTo(presharedKey, 0);
        }
    }

    public synchronized Key presharedKey() {
        return Key.of(presharedKey);
    }

    /**
     * Claims the right to send an initiation now: false when one went out less than REKEY_TIMEOUT ago, so that
     * every path that wants a handshake (data, timers, retries) sends at most one per REKEY_TIMEOUT.
     */
    public synchronized boolean claimInitiationSlot(long now) {
        if (sentAny && now - lastSentHandshake < Protocol.REKEY_TIMEOUT) {
            return false;
        }
        sentAny = true;
        lastSentHandshake = now;
        return true;
    }

    /** Allows an initiation right away (a peer that starts, or whose device key changed). */
    public synchronized void resetPacing() {
        sentAny = false;
    }

    /**
     * Sends no initiation for REKEY_TIMEOUT from {@code now}, as if one had just gone out: the peer is to start the
     * next handshake ({@code Device#rotatePrivateKey}).
     */
    public synchronized void deferInitiations(long now) {
        markSent(now);
    }

    /** Records that a response went out now (responses are not paced, but they delay our own initiations). */
    synchronized void markSent(long now) {
        sentAny = true;
        lastSentHandshake = now;
    }

    /** Forgets the handshake in flight and its secrets (the kernel's handshake_zero). */
    public synchronized void clear() {
        Arrays.fill(hash, (byte) 0);
        Arrays.fill(chainKey, (byte) 0);
        Arrays.fill(localEphemeral, (byte) 0);
        Arrays.fill(remoteEphemeral, (byte) 0);
        localIndex = 0;
        remoteIndex = 0;
        state = State.ZEROED;
    }

    /** Zeroes every secret, including the preshared key and the precomputed static-static secret. */
    public synchronized void destroy() {
        clear();
        Arrays.fill(presharedKey, (byte) 0);
        Arrays.fill(precomputedStaticStatic, (byte) 0);
    }
}
