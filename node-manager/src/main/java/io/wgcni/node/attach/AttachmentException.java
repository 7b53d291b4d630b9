package io.wgcni.node.attach;

/**
 * A call of {@link Attachments} refused or failed. The message is what the caller is told, word for word (the CNI
 * plugin puts it in its error JSON); the kind is which sort of answer it is, for the transport's edge to give each
 * its own status.
 *
 * <p>One exception with a kind rather than a class per case: nothing but that edge treats one kind differently from
 * another, and there a switch over the enum stops compiling when a kind is added without an answer.
 */
public final class AttachmentException extends Exception {
    private static final long serialVersionUID = 1L;

    public enum Kind {
        /** A field of the call is wrong: the message starts with the field's name. */
        INVALID,
        /** The interface name is taken in the namespace, by another container or by a link that is not ours. */
        EXISTS,
        /** No free address is left in the node's subnet. */
        EXHAUSTED,
        /** No such attachment (in the network asked about). */
        NOT_FOUND,
        /**
         * The attachment or its namespace is not as the call needs it: what Check found wrong, a default route in
         * the way of an attach.
         */
        WRONG_STATE,
        /** node-manager is shutting down. */
        UNAVAILABLE,
        /** The kernel or the store failed under the call. */
        INTERNAL
    }

    private final Kind kind;

    public AttachmentException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public AttachmentException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
