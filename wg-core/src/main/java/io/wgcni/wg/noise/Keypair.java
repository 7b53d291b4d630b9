package io.wgcni.wg.noise;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import javax.crypto.SecretKey;

/**
 * The transport keys of one session, the counter of the next message to send and the replay window of
 * the messages received.
 *
 * <p>Lifetime: {@link Keypairs} holds one reference from the start; whoever seals or opens with the keys holds
 * another for that long ({@link #acquire}/{@link #release}, once per batch). {@link #destroy} (the session is
 * replaced, expired or erased) makes the keypair unusable at once and drops the owner's reference; the keys are
 * zeroed when the last reference goes, so a batch already sealing when a rekey replaces its session finishes with
 * the real keys, and nothing is ever sealed or opened under zeroed ones (the kernel's kref on noise_keypair).
 * SecretKeySpec cannot be destroyed, so the keys are a {@link SecretKey} of our own.
 */
public final class Keypair {
    private final TransportKey sendKey;
    private final TransportKey receiveKey;
    private final AtomicLong sendCounter = new AtomicLong();
    private final ReplayWindow replayWindow = new ReplayWindow();
    private final boolean initiator;
    private final int localIndex;
    private final int remoteIndex;
    private final long created;
    private volatile boolean valid = true;
    /** The owner's reference plus one per user; 0 once the keys are zeroed. */
    private final AtomicInteger references = new AtomicInteger(1);
    private final AtomicBoolean destroyed = new AtomicBoolean();

    Keypair(byte[] sendKey, byte[] receiveKey, boolean initiator, int localIndex, int remoteIndex, long created) {
        this.sendKey = new TransportKey(sendKey.clone());
        this.receiveKey = new TransportKey(receiveKey.clone());
        this.initiator = initiator;
        this.localIndex = localIndex;
        this.remoteIndex = remoteIndex;
        this.created = created;
    }

    public SecretKey sendKey() {
        return sendKey;
    }

    public SecretKey receiveKey() {
        return receiveKey;
    }

    public boolean isInitiator() {
        return initiator;
    }

    public int localIndex() {
        return localIndex;
    }

    public int remoteIndex() {
        return remoteIndex;
    }

    public long created() {
        return created;
    }

    /**
     * Takes the counter for the next message, or returns -1 once the keypair may no longer send: destroyed,
     * older than REJECT_AFTER_TIME, or out of counters.
     */
    public long nextSendCounter(long now) {
        return nextSendCounters(now, 1);
    }

    /**
     * Takes {@code n} consecutive counters and returns the first, or -1 (taking none that count) when the keypair
     * may not send that many: destroyed, older than REJECT_AFTER_TIME, or too few counters left.
     */
    public long nextSendCounters(long now, int n) {
        if (!canSend(now)) {
            return -1;
        }
        long first = sendCounter.getAndAdd(n);
        if (Long.compareUnsigned(first, Protocol.REJECT_AFTER_MESSAGES - n) > 0) {
            sendCounter.set(Protocol.REJECT_AFTER_MESSAGES);
            return -1;
        }
        return first;
    }

    /**
     * Takes a reference for sealing or opening with these keys; false once the keypair is destroyed (then the keys
     * must not be used). Every true is followed by one {@link #release}.
     */
    public boolean acquire() {
        while (valid) {
            int r = references.get();
            if (r == 0) {
                return false;
            }
            if (references.compareAndSet(r, r + 1)) {
                return true;
            }
        }
        return false;
    }

    /** Gives back a reference from {@link #acquire}; the last one zeroes the keys of a destroyed keypair. */
    public void release() {
        if (references.decrementAndGet() == 0) {
            sendKey.destroy();
            receiveKey.destroy();
        }
    }

    /** Whether the keys are zeroed (no reference is left). */
    public boolean keysZeroed() {
        return references.get() == 0;
    }

    public boolean canSend(long now) {
        return valid && now - created < Protocol.REJECT_AFTER_TIME
            && Long.compareUnsigned(sendCounter.get(), Protocol.REJECT_AFTER_MESSAGES) < 0;
    }

    public boolean canReceive(long now) {
        return valid && now - created < Protocol.REJECT_AFTER_TIME;
    }

    /** Messages sent so far: the kernel's sending_counter, used for REKEY_AFTER_MESSAGES. */
    public long sentMessages() {
        return sendCounter.get();
    }

    /** Moves the send counter forward, as if {@code n} messages had been sent (expiry, and tests of the limits). */
    public void skipSendCounter(long n) {
        sendCounter.set(n);
    }

    /** Replay check and record of a message that authenticated under these keys. */
    public boolean acceptCounter(long counter) {
        synchronized (replayWindow) {
            return replayWindow.validate(counter);
        }
    }

    public boolean isValid() {
        return valid;
    }

    /** Makes the keypair unusable now; its keys are zeroed once no one is sealing or opening with them. */
    public void destroy() {
        valid = false;
        if (destroyed.compareAndSet(false, true)) {
            release();
        }
    }

    /** A ChaCha20 key that can be zeroed. */
    private static final class TransportKey implements SecretKey {
        @java.io.Serial
        private static final long serialVersionUID = 1L;
        private final transient byte[] key;
        private volatile boolean destroyed;

        TransportKey(byte[] key) {
            this.key = key;
        }

        @Override
        public String getAlgorithm() {
            return "ChaCha20";
        }

        @Override
        public String getFormat() {
            return "RAW";
        }

        @Override
        public byte[] getEncoded() {
            return key.clone();
        }

        @Override
        public void destroy() {
            destroyed = true;
            Arrays.fill(key, (byte) 0);
        }

        @Override
        public boolean isDestroyed() {
            return destroyed;
        }

        @Override
        public String toString() {
            return "TransportKey[redacted]";
        }
    }
}
