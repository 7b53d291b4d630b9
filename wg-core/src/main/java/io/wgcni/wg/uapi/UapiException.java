package io.wgcni.wg.uapi;

/** A failed UAPI operation: the errno the client sees and a message for the log (never key material). */
public final class UapiException extends Exception {
    public static final int EIO = 5;
    public static final int EINVAL = 22;
    public static final int ENOSPC = 28;
    public static final int EMSGSIZE = 90;
    public static final int EPROTO = 71;
    public static final int EADDRINUSE = 98;

    private final int errno;

    public UapiException(int errno, String message) {
        super(message);
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }
}
