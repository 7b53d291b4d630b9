package io.wgcni.cluster.auth;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.wgcni.api.cluster.v1.ClusterGrpc;
import io.wgcni.cluster.store.Store;
import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * Authenticates every call but Join and health checks: the TLS layer has proved that the client holds the key of
 * the certificate it presented; here the certificate must be issued by the cluster CA, current, not revoked, and
 * be a node's or the admin's. Failures are UNAUTHENTICATED and the call never reaches the service.
 *
 * <p>Revoked serials live under {@code revoked/<hex serial>} in the store and in memory.
 */
public final class AuthInterceptor implements ServerInterceptor {
    public static final String REVOKED = "revoked/";

    private final X509Certificate ca;
    private final Set<String> revoked = ConcurrentHashMap.newKeySet();

    public AuthInterceptor(X509Certificate ca, Store store) {
        this.ca = ca;
        store.listen(events -> events.stream()
                .filter(e -> e.key().startsWith(REVOKED) && !e.isDelete())
                .forEach(e -> revoked.add(e.key().substring(REVOKED.length()))));
        store.range(REVOKED).kvs().forEach(kv -> revoked.add(kv.key().substring(REVOKED.length())));
    }

    public static String serialKey(BigInteger serial) {
        return REVOKED + serial.toString(16);
    }

    @Override
    public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers,
            ServerCallHandler<Q, A> next) {
        String method = call.getMethodDescriptor().getFullMethodName();
        if (method.equals(ClusterGrpc.getJoinMethod().getFullMethodName()) || method.startsWith("grpc.health.v1.")) {
            return next.startCall(call, headers);
        }
        Identity identity;
        try {
            identity = authenticate(call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION));
        } catch (SecurityException e) {
            call.close(Status.UNAUTHENTICATED.withDescription(e.getMessage()), new Metadata());
            return new ServerCall.Listener<>() {};
        }
        return Contexts.interceptCall(Context.current().withValue(Identity.KEY, identity), call, headers, next);
    }

    private Identity authenticate(SSLSession session) {
        Certificate[] chain;
        try {
            if (session == null) {
                throw new SecurityException("TLS is required");
            }
            chain = session.getPeerCertificates();
        } catch (SSLPeerUnverifiedException e) {
            throw new SecurityException("a client certificate is required: join the cluster first");
        }
        if (chain.length == 0 || !(chain[0] instanceof X509Certificate cert)) {
            throw new SecurityException("a client certificate is required: join the cluster first");
        }
        try {
            cert.verify(ca.getPublicKey());
            cert.checkValidity();
        } catch (GeneralSecurityException e) {
            throw new SecurityException("the client certificate is not one this cluster issued, or it has expired");
        }
        String serial = cert.getSerialNumber().toString(16);
        if (revoked.contains(serial)) {
            throw new SecurityException("the client certificate has been revoked (its node was removed): join again");
        }
        String cn = null;
        String org = null;
        try {
            List<Rdn> rdns = new LdapName(cert.getSubjectX500Principal().getName()).getRdns();
            for (Rdn rdn : rdns) {
                if (rdn.getType().equalsIgnoreCase("CN")) {
                    cn = rdn.getValue().toString();
                } else if (rdn.getType().equalsIgnoreCase("O")) {
                    org = rdn.getValue().toString();
                }
            }
        } catch (InvalidNameException e) {
            throw new SecurityException("the client certificate's subject cannot be parsed");
        }
        if (cn != null && Pki.ADMIN_ORG.equals(org) && Pki.ADMIN.equals(cn)) {
            return new Identity(cn, true, serial);
        }
        if (cn != null && Pki.NODE_ORG.equals(org)) {
            return new Identity(cn, false, serial);
        }
        throw new SecurityException("the client certificate is neither a node's nor the admin's");
    }
}
