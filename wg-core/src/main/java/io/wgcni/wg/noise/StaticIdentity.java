package io.wgcni.wg.noise;

import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.crypto.X25519;

/** The device's static key pair. */
public record StaticIdentity(Key privateKey, Key publicKey) {

    public static StaticIdentity of(Key privateKey) {
        return new StaticIdentity(privateKey, X25519.publicKey(privateKey));
    }

    @Override
    public String toString() {
        return "StaticIdentity[" + publicKey.shortForm() + "]";
    }
}
