package io.wgcni.cluster.auth;

import io.wgcni.cluster.store.Store;
import io.wgcni.cluster.store.Store.Compare;
import io.wgcni.cluster.store.Store.KeyValue;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * Join tokens, kubeadm style: {@code <id>.<secret>}, 6 and 16 characters of [a-z0-9]. The store keeps
 * {@code tokens/<id>} = SHA-256 of the secret and the expiry; the secret itself exists only in the printed string.
 * A token may be used by several nodes until it expires or is deleted.
 */
public final class Tokens {
    static final String PREFIX = "tokens/";
    private static final String ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";
    private static final SecureRandom RANDOM = new SecureRandom();

    public record Token(String id, Instant expires) {}

    private final Store store;
    private final Clock clock;

    public Tokens(Store store, Clock clock) {
        this.store = store;
        this.clock = clock;
    }

    /** Creates a token valid for ttl and returns the join string {@code <id>.<secret>:sha256:<CA key hash>}. */
    public String create(Duration ttl, byte[] caKeyHash) {
        if (ttl.isNegative() || ttl.isZero()) {
            throw new IllegalArgumentException("--ttl must be positive");
        }
        while (true) {
            String id = random(6);
            String secret = random(16);
            Instant expires = clock.instant().plus(ttl);
            byte[] value = (HexFormat.of().formatHex(sha256(secret)) + " " + expires.getEpochSecond())
                    .getBytes(StandardCharsets.UTF_8);
            var r = store.commit(new Store.Txn(List.of(Compare.absent(PREFIX + id)),
                    List.of(new Store.Put(PREFIX + id, value)))).join();
            if (r.succeeded()) {
                return id + "." + secret + ":sha256:" + HexFormat.of().formatHex(caKeyHash);
            }
        }
    }

    public List<Token> list() {
        return store.range(PREFIX).kvs().stream()
                .map(kv -> new Token(kv.key().substring(PREFIX.length()), expiry(kv)))
                .toList();
    }

    /** Deletes a token; false if there was none with that id. */
    public boolean delete(String id) {
        Optional<KeyValue> kv = store.get(PREFIX + id);
        if (kv.isEmpty()) {
            return false;
        }
        return store.commit(new Store.Txn(List.of(new Compare(PREFIX + id, kv.get().modRevision())),
                List.of(new Store.Delete(PREFIX + id)))).join().succeeded();
    }

    /** True when tokenPart ({@code <id>.<secret>}) names a stored, unexpired token with that secret. */
    public boolean valid(String tokenPart) {
        int dot = tokenPart.indexOf('.');
        if (dot != 6 || tokenPart.length() != 23) {
            return false;
        }
        Optional<KeyValue> kv = store.get(PREFIX + tokenPart.substring(0, dot));
        if (kv.isEmpty()) {
            return false;
        }
        String[] f = new String(kv.get().value(), StandardCharsets.UTF_8).split(" ");
        boolean secretOk = MessageDigest.isEqual(HexFormat.of().parseHex(f[0]), sha256(tokenPart.substring(dot + 1)));
        return secretOk && clock.instant().isBefore(expiry(kv.get()));
    }

    private static Instant expiry(KeyValue kv) {
        return Instant.ofEpochSecond(Long.parseLong(new String(kv.value(), StandardCharsets.UTF_8).split(" ")[1]));
    }

    private static String random(int n) {
        StringBuilder sb = new StringBuilder(n);
        for (int i = 0; i < n; i++) {
            sb.append(ALPHABET.charAt(RANDOM.nextInt(ALPHABET.length())));
        }
        return sb.toString();
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
