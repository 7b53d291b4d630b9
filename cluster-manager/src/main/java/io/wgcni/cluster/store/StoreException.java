package io.wgcni.cluster.store;

/** The store could not read or write (disk, database): the request fails, nothing is acknowledged. */
public final class StoreException extends RuntimeException {
    public StoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
