package io.wgcni.cluster.auth;

import io.grpc.Context;

/** Who is calling, from the verified client certificate. */
public record Identity(String name, boolean admin, String serial) {
    public static final Context.Key<Identity> KEY = Context.key("wgcni-identity");

    /** The caller of the current RPC (set by {@link AuthInterceptor}). */
    public static Identity current() {
        return KEY.get();
    }

    public boolean mayActOn(String node) {
        return admin || name.equals(node);
    }
}
