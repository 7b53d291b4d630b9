package io.wgcni.api.cluster;

import java.util.Arrays;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * A join string as {@code cluster-manager token create} prints it: {@code <id>.<secret>:sha256:<hex>}, the kubeadm
 * bootstrap token followed by the SHA-256 of the cluster CA's SubjectPublicKeyInfo. The secret goes to the server
 * once, in JoinRequest.token; the hash stays here and pins the CA the client will trust.
 */
public record JoinToken(String id, String secret, byte[] caKeyHash) {
    private static final Pattern ID = Pattern.compile("[a-z0-9]{6}");
    private static final Pattern SECRET = Pattern.compile("[a-z0-9]{16}");
    private static final Pattern HASH = Pattern.compile("[0-9a-f]{64}");

    public JoinToken {
        if (!ID.matcher(id).matches()) {
            throw new IllegalArgumentException("join token: the id must be 6 characters [a-z0-9]");
        }
        if (!SECRET.matcher(secret).matches()) {
            throw new IllegalArgumentException("join token: the secret must be 16 characters [a-z0-9]");
        }
        if (caKeyHash.length != 32) {
            throw new IllegalArgumentException("join token: the CA hash must be 32 bytes");
        }
        caKeyHash = caKeyHash.clone();
    }

    /** Parses {@code <id>.<secret>:sha256:<64 lowercase hex>}; the message never repeats the secret. */
    public static JoinToken parse(String s) {
        String expected = "a join string looks like abcdef.0123456789abcdef:sha256:<64 hex digits>";
        int colon = s.indexOf(':');
        if (colon < 0) {
            throw new IllegalArgumentException("join token: no CA hash; " + expected);
        }
        String token = s.substring(0, colon);
        String pin = s.substring(colon + 1);
        int dot = token.indexOf('.');
        if (dot < 0) {
            throw new IllegalArgumentException("join token: no '.' between id and secret; " + expected);
        }
        if (!pin.startsWith("sha256:") || !HASH.matcher(pin.substring(7)).matches()) {
            throw new IllegalArgumentException(
                    "join token: the CA hash must be sha256:<64 lowercase hex>; " + expected);
        }
        return new JoinToken(token.substring(0, dot), token.substring(dot + 1),
                HexFormat.of().parseHex(pin.substring(7)));
    }

    /** The part the server checks: {@code <id>.<secret>}. */
    public String tokenPart() {
        return id + "." + secret;
    }

    @Override
    public byte[] caKeyHash() {
        return caKeyHash.clone();
    }

    @Override
    public String toString() {
        return id + ".<secret>:sha256:" + HexFormat.of().formatHex(caKeyHash);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof JoinToken t && t.id.equals(id) && t.secret.equals(secret)
                && Arrays.equals(t.caKeyHash, caKeyHash);
    }

    @Override
    public int hashCode() {
        return id.hashCode() * 31 + Arrays.hashCode(caKeyHash);
    }
}
