package io.wgcni.wg.noise;

/**
 * A peer's sessions: {@code current} sends, {@code previous} still receives what was in flight during a rekey,
 * and {@code next} is a responder's new session awaiting key confirmation (the initiator's first data message).
 */
public final class Keypairs {
    private Keypair previous;
    private Keypair current;
    private volatile Keypair next;

    public synchronized Keypair current() {
        return current;
    }

    public Keypair next() {
        return next;
    }

    public synchronized Keypair previous() {
        return previous;
    }

    /**
     * Installs a freshly derived session and returns the keypairs it pushes out, for the caller to remove from
     * the index table (their keys are already destroyed).
     */
    public synchronized Keypair[] install(Keypair keypair) {
        Keypair[] dropped;
        if (keypair.isInitiator()) {
            if (next != null) {
                dropped = new Keypair[] {current, previous};
                previous = next;
                next = null;
            } else {
                dropped = new Keypair[] {previous};
                previous = current;
            }
            current = keypair;
        } else {
            dropped = new Keypair[] {next, previous};
            next = keypair;
            previous = null;
        }
        destroyAll(dropped);
        return dropped;
    }

    /**
     * Key confirmation: the first message received under {@code next} promotes it to current. Returns the
     * keypair that falls out (to remove from the index table), or null when nothing changed.
     */
    public Keypair[] receivedWith(Keypair keypair) {
        if (next != keypair) {
            return null;
        }
        synchronized (this) {
            if (next != keypair) {
                return null;
            }
            Keypair[] dropped = {previous};
            previous = current;
            current = keypair;
            next = null;
            destroyAll(dropped);
            return dropped;
        }
    }

    /** Makes the current session unusable for sending, so the next packet starts a handshake. */
    public synchronized void expireCurrent() {
        if (current != null) {
            current.skipSendCounter(Protocol.REJECT_AFTER_MESSAGES);
        }
        if (next != null) {
            next.skipSendCounter(Protocol.REJECT_AFTER_MESSAGES);
        }
    }

    /** Drops every session and returns them (destroyed) for index-table cleanup. */
    public synchronized Keypair[] clear() {
        Keypair[] dropped = {previous, current, next};
        previous = current = next = null;
        destroyAll(dropped);
        return dropped;
    }

    private static void destroyAll(Keypair[] keypairs) {
        for (Keypair k : keypairs) {
            if (k != null) {
                k.destroy();
            }
        }
    }
}
