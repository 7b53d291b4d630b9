package io.wgcni.cni;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The ADD result, in the shape of every supported version: 0.4.0 names each address's IP version, 1.0.0 dropped
 * that field, 1.1.0 added the interface's {@code mtu}, {@code socketPath} and {@code pciID} and the route's
 * {@code mtu}, {@code advmss}, {@code priority}, {@code table} and {@code scope}. Read from any of them (a
 * {@code prevResult}), written in the one the configuration asks for; fields a version lacks are left out, as
 * libcni's converters do.
 */
public record Result(List<Interface> interfaces, List<IpConfig> ips, List<Route> routes, Dns dns) {

    public static final String V040 = "0.4.0";
    public static final String V100 = "1.0.0";
    public static final String V110 = "1.1.0";
    /** Oldest first; the last is what VERSION reports as its own. */
    public static final List<String> SUPPORTED_VERSIONS = List.of(V040, V100, V110);

    public Result {
        interfaces = List.copyOf(interfaces);
        ips = List.copyOf(ips);
        routes = List.copyOf(routes);
    }

    /** {@code mac} is null for interfaces without a hardware address (a TUN has none); numbers are null when unset. */
    public record Interface(String name, String mac, Long mtu, String sandbox, String socketPath, String pciId) {}

    /** {@code iface} is an index into {@code interfaces}, or null when the address belongs to no listed interface. */
    public record IpConfig(String address, String gateway, Long iface) {}

    public record Route(String dst, String gw, Long mtu, Long advmss, Long priority, Long table, String scope) {
        public static Route of(String dst, String gw) {
            return new Route(dst, gw, null, null, null, null, null);
        }

        boolean isDefault() {
            return dst.equals("0.0.0.0/0") || dst.equals("::/0");
        }
    }

    public record Dns(List<String> nameservers, String domain, List<String> search, List<String> options) {
        public Dns {
            nameservers = List.copyOf(nameservers);
            search = List.copyOf(search);
            options = List.copyOf(options);
        }

        boolean isEmpty() {
            return nameservers.isEmpty() && (domain == null || domain.isEmpty()) && search.isEmpty()
                    && options.isEmpty();
        }

        static Dns fromJson(Map<String, Object> json, String field) throws CniException {
            Fields f = new Fields(json, field);
            return new Dns(f.strings("nameservers"), f.string("domain"), f.strings("search"), f.strings("options"));
        }

        Map<String, Object> toJson() {
            Map<String, Object> o = new LinkedHashMap<>();
            if (!nameservers.isEmpty()) {
                o.put("nameservers", nameservers);
            }
            putIfSet(o, "domain", domain);
            if (!search.isEmpty()) {
                o.put("search", search);
            }
            if (!options.isEmpty()) {
                o.put("options", options);
            }
            return o;
        }
    }

    // ---- writing ----

    public Map<String, Object> toJson(String version) {
        boolean v11 = version.equals(V110);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("cniVersion", version);
        if (!interfaces.isEmpty()) {
            List<Object> list = new ArrayList<>();
            for (Interface i : interfaces) {
                Map<String, Object> o = new LinkedHashMap<>();
                o.put("name", i.name());
                putIfSet(o, "mac", i.mac());
                if (v11) {
                    putIfSet(o, "mtu", i.mtu());
                }
                putIfSet(o, "sandbox", i.sandbox());
                if (v11) {
                    putIfSet(o, "socketPath", i.socketPath());
                    putIfSet(o, "pciID", i.pciId());
                }
                list.add(o);
            }
            out.put("interfaces", list);
        }
        if (!ips.isEmpty()) {
            List<Object> list = new ArrayList<>();
            for (IpConfig ip : ips) {
                Map<String, Object> o = new LinkedHashMap<>();
                if (version.equals(V040)) {
                    o.put("version", ip.address().indexOf(':') >= 0 ? "6" : "4");
                }
                o.put("address", ip.address());
                putIfSet(o, "gateway", ip.gateway());
                putIfSet(o, "interface", ip.iface());
                list.add(o);
            }
            out.put("ips", list);
        }
        if (!routes.isEmpty()) {
            List<Object> list = new ArrayList<>();
            for (Route r : routes) {
                Map<String, Object> o = new LinkedHashMap<>();
                o.put("dst", r.dst());
                putIfSet(o, "gw", r.gw());
                if (v11) {
                    putIfSet(o, "mtu", r.mtu());
                    putIfSet(o, "advmss", r.advmss());
                    putIfSet(o, "priority", r.priority());
                    putIfSet(o, "table", r.table());
                    putIfSet(o, "scope", r.scope());
                }
                list.add(o);
            }
            out.put("routes", list);
        }
        // Go's types write "dns": {} when empty; podman and containerd accept either, the spec marks it optional.
        if (dns != null && !dns.isEmpty()) {
            out.put("dns", dns.toJson());
        }
        return out;
    }

    private static void putIfSet(Map<String, Object> o, String key, Object value) {
        if (value != null && !(value instanceof String s && s.isEmpty())) {
            o.put(key, value);
        }
    }

    // ---- reading ----

    /** Reads a result of any supported version; {@code field} names it in errors ("prevResult"). */
    public static Result fromJson(Map<String, Object> json, String field) throws CniException {
        Fields f = new Fields(json, field);
        List<Interface> interfaces = new ArrayList<>();
        List<Map<String, Object>> list = f.objects("interfaces");
        for (int n = 0; n < list.size(); n++) {
            Fields i = new Fields(list.get(n), field + ".interfaces[" + n + "]");
            interfaces.add(new Interface(i.requiredString("name"), i.string("mac"), i.number("mtu"),
                    i.string("sandbox"), i.string("socketPath"), i.string("pciID")));
        }
        List<IpConfig> ips = new ArrayList<>();
        list = f.objects("ips");
        for (int n = 0; n < list.size(); n++) {
            Fields i = new Fields(list.get(n), field + ".ips[" + n + "]");
            Long index = i.number("interface");
            if (index != null && (index < 0 || index >= interfaces.size())) {
                throw i.invalid("interface", "is " + index + ", not an index into interfaces");
            }
            ips.add(new IpConfig(i.requiredString("address"), i.string("gateway"), index));
        }
        List<Route> routes = new ArrayList<>();
        list = f.objects("routes");
        for (int n = 0; n < list.size(); n++) {
            Fields r = new Fields(list.get(n), field + ".routes[" + n + "]");
            routes.add(new Route(r.requiredString("dst"), r.string("gw"), r.number("mtu"), r.number("advmss"),
                    r.number("priority"), r.number("table"), r.string("scope")));
        }
        Map<String, Object> dns = f.object("dns");
        return new Result(interfaces, ips, routes, dns == null ? null : Dns.fromJson(dns, field + ".dns"));
    }

    /** Typed access to one JSON object's fields, with errors that name the field (code 7). */
    static final class Fields {
        private final Map<String, Object> json;
        private final String path;

        Fields(Map<String, Object> json, String path) {
            this.json = json;
            this.path = path;
        }

        CniException invalid(String key, String problem) {
            return new CniException(CniException.INVALID_NETWORK_CONFIG, path + "." + key + " " + problem);
        }

        boolean has(String key) {
            return json.get(key) != null;
        }

        String string(String key) throws CniException {
            Object value = json.get(key);
            if (value == null || value instanceof String) {
                return (String) value;
            }
            throw invalid(key, "must be a string");
        }

        String requiredString(String key) throws CniException {
            String value = string(key);
            if (value == null || value.isEmpty()) {
                throw invalid(key, "is missing");
            }
            return value;
        }

        Long number(String key) throws CniException {
            Object value = json.get(key);
            if (value == null || value instanceof Long) {
                return (Long) value;
            }
            throw invalid(key, "must be an integer");
        }

        Boolean bool(String key) throws CniException {
            Object value = json.get(key);
            if (value == null || value instanceof Boolean) {
                return (Boolean) value;
            }
            throw invalid(key, "must be true or false");
        }

        @SuppressWarnings("unchecked")
        Map<String, Object> object(String key) throws CniException {
            Object value = json.get(key);
            if (value == null || value instanceof Map) {
                return (Map<String, Object>) value;
            }
            throw invalid(key, "must be an object");
        }

        @SuppressWarnings("unchecked")
        List<Map<String, Object>> objects(String key) throws CniException {
            Object value = json.get(key);
            if (value == null) {
                return List.of();
            }
            if (value instanceof List<?> list) {
                for (Object element : list) {
                    if (!(element instanceof Map)) {
                        throw invalid(key, "must be a list of objects");
                    }
                }
                return (List<Map<String, Object>>) value;
            }
            throw invalid(key, "must be a list");
        }

        List<String> strings(String key) throws CniException {
            Object value = json.get(key);
            if (value == null) {
                return List.of();
            }
            List<String> out = new ArrayList<>();
            if (value instanceof List<?> list) {
                for (Object element : list) {
                    if (!(element instanceof String s)) {
                        throw invalid(key, "must be a list of strings");
                    }
                    out.add(s);
                }
                return out;
            }
            throw invalid(key, "must be a list of strings");
        }
    }
}
