package io.wgcni.cluster.store;

import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * The key {@value #KEY} says what a store holds: the layout of its keys and the cluster it belongs to (the SHA-256
 * of its CA's public key). A cluster-manager refuses a store of another layout or another cluster's, before it
 * writes anything, so that a wrong {@code --store} or prefix never mixes two clusters.
 */
public final class Layout {
    public static final String KEY = "cluster";
    public static final int VERSION = 1;
    private static final String REPLICAS = EtcdStore.REPLICAS;

    private Layout() {}

    /** What the marker says, or empty when the store has none. */
    public static Optional<String> caOf(Store store) {
        return store.get(KEY).map(kv -> parse(kv.value(), "the store").ca);
    }

    private record Marker(int layout, String ca) {}

    private static Marker parse(byte[] value, String where) {
        String text = new String(value, StandardCharsets.UTF_8);
        String[] f = text.split(" ");
        if (f.length == 3 && f[0].equals("wgcni") && f[1].matches("layout=\\d{1,4}") && f[2].startsWith("ca=sha256:")) {
            return new Marker(Integer.parseInt(f[1].substring("layout=".length())),
                    f[2].substring("ca=sha256:".length()));
        }
        throw new IllegalStateException(where + " holds a '" + KEY + "' key that is not a wgcni cluster marker ("
                + abbreviate(text) + "): it is not a wgcni store; use another store or prefix (nothing was changed)");
    }

    /**
     * Checks the store against this cluster's CA and writes the marker into a store that has none. A store with
     * data but no marker is adopted when adoptUnmarked (an embedded store from before the marker), and refused
     * otherwise (a shared prefix something else uses).
     */
    public static void claim(Store store, byte[] caKeyHash, String where, boolean adoptUnmarked) {
        String ca = HexFormat.of().formatHex(caKeyHash);
        Optional<Store.KeyValue> stored = store.get(KEY);
        if (stored.isPresent()) {
            Marker m = parse(stored.get().value(), where);
            if (m.layout() != VERSION) {
                throw new IllegalStateException(where + " holds a store of layout " + m.layout()
                        + "; this cluster-manager reads layout " + VERSION
                        + ": run a matching version, or use another store or prefix (nothing was changed)");
            }
            if (!m.ca().equals(ca)) {
                throw new IllegalStateException(where + " belongs to another cluster (CA key sha256:" + m.ca()
                        + "), not to the one whose CA is in this data directory (sha256:" + ca + "): give this replica"
                        + " that cluster's ca.crt and ca.key, or use another store or prefix (nothing was changed)");
            }
            return;
        }
        List<Store.KeyValue> present =
                store.range("").kvs().stream().filter(kv -> !kv.key().startsWith(REPLICAS)).toList();
        if (!present.isEmpty() && !adoptUnmarked) {
            throw new IllegalStateException(where + " holds " + present.size() + " key(s) ("
                    + abbreviate(present.getFirst().key()) + "...) but no wgcni cluster marker: it is not a wgcni"
                    + " store, or one of an older layout; use another prefix (nothing was changed)");
        }
        byte[] value = ("wgcni layout=" + VERSION + " ca=sha256:" + ca).getBytes(StandardCharsets.UTF_8);
        var r = store.commit(new Store.Txn(List.of(Store.Compare.absent(KEY)), List.of(new Store.Put(KEY, value))))
                .join();
        if (!r.succeeded()) {
            claim(store, caKeyHash, where, adoptUnmarked);   // another replica claimed it first: check theirs
        }
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "...";
    }
}
