package io.wgcni.cluster.ipam;

/** Every subnet of the cluster prefix is allocated. */
public final class SubnetsExhaustedException extends RuntimeException {
    public SubnetsExhaustedException(String message) {
        super(message);
    }
}
