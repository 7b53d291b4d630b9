package io.wgcni.wg.noise;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;
import javax.crypto.SecretKey;

/**
 * The transport keys of one session, the counter of the next message to send and the replay window of
 * the messages received. Keys are zeroed by {@link #destroy()} (SecretKeySpec cannot be destroyed, so the keys
 * are a {@link SecretKey} of our own).
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
        if (!canSend(now)) {
            return -1;
        }
        long counter = sendCounter.getAndIncrement();
        if (Long.compareUnsigned(counter, Protocol.REJECT_AFTER_MESSAGES) >= 0) {
            sendCounter.set(Protocol.REJECT_AFTER_MESSAGES);
            return -1;
        }
        return counter;
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

    /** Replay check and record; the caller serializes calls per keypair (the receive path's in-order stage). */
    public boolean acceptCounter(long counter) {
        return replayWindow.validate(counter);
    }

    public boolean isValid() {
        return valid;
    }

    public void destroy() {
        valid = false;
        sendKey.destroy();
        receiveKey.destroy();
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
