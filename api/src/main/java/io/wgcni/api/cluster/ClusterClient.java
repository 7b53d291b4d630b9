package io.wgcni.api.cluster;

import com.google.protobuf.ByteString;
import io.grpc.ChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.TlsChannelCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.wgcni.api.cluster.v1.ClusterGrpc;
import io.wgcni.api.cluster.v1.JoinRequest;
import io.wgcni.api.cluster.v1.JoinResponse;
import java.io.IOException;
import java.net.Socket;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * A connection to the cluster-manager. {@link #join} trades a join token for credentials once; {@link #connect}
 * opens a mutual-TLS channel with them. The server is always verified against the cluster CA under the fixed
 * name {@value #SERVER_NAME} (every server certificate carries it), so any address reaching the server works.
 */
public final class ClusterClient implements AutoCloseable {
    /** The DNS name in every cluster-manager server certificate; the client checks it whatever the address. */
    public static final String SERVER_NAME = "wgcni-cluster-manager";

    static {
        EndpointsResolver.register();
    }

    private final ManagedChannel channel;

    private ClusterClient(ManagedChannel channel) {
        this.channel = channel;
    }

    /**
     * Writes an EC P-256 key into dir (0700; the key 0600) before anything else, or takes the one an unfinished
     * earlier join left there, calls Join over TLS that trusts only a CA whose SubjectPublicKeyInfo hashes to
     * token.caKeyHash(), checks the returned CA against the pin too, writes the certificates and returns the
     * credentials. Repeating a join that failed in any way (its reply lost, the process killed) is safe: the same
     * key and token get the same certificate. gRPC errors surface as {@link io.grpc.StatusRuntimeException}.
     */
    public static Credentials join(String target, JoinToken token, String nodeName, Path dir) throws IOException {
        KeyPair keyPair = Credentials.pendingKeyPair(dir);
        ChannelCredentials tls = TlsChannelCredentials.newBuilder()
                .trustManager(new PinnedCaTrustManager(token.caKeyHash()))
                .build();
        ManagedChannel channel = channel(target, tls);
        try {
            JoinResponse response = ClusterGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(30, TimeUnit.SECONDS)
                    .join(JoinRequest.newBuilder()
                            .setNodeName(nodeName)
                            .setToken(token.tokenPart())
                            .setPublicKeyDer(ByteString.copyFrom(keyPair.getPublic().getEncoded()))
                            .build());
            X509Certificate ca = Credentials.parseCertificate(response.getCaCertificateDer().toByteArray());
            X509Certificate cert = Credentials.parseCertificate(response.getCertificateDer().toByteArray());
            if (!MessageDigest.isEqual(spkiHash(ca), token.caKeyHash())) {
                throw new IOException("the CA returned by Join does not match the join token's CA hash");
            }
            cert.verify(ca.getPublicKey());
            if (!cert.getPublicKey().equals(keyPair.getPublic())) {
                throw new IOException("the certificate returned by Join is not for this node's key");
            }
            return Credentials.save(dir, keyPair.getPrivate(), cert, ca);
        } catch (GeneralSecurityException e) {
            throw new IOException("the certificate returned by Join is invalid: " + e.getMessage(), e);
        } finally {
            shutdown(channel);
        }
    }

    /**
     * Opens a mutual-TLS channel to target ("host:port" or "[v6]:port", or several of them separated by commas:
     * the cluster-manager replicas) with the given identity.
     */
    public static ClusterClient connect(String target, Credentials credentials) throws IOException {
        try {
            KeyStore keys = KeyStore.getInstance("PKCS12");
            keys.load(null, null);
            char[] password = new char[0];
            keys.setKeyEntry("tls", credentials.privateKey(), password,
                    new X509Certificate[] {credentials.certificate()});
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(keys, password);
            ChannelCredentials tls = TlsChannelCredentials.newBuilder()
                    .keyManager(kmf.getKeyManagers())
                    .trustManager(caTrustManager(credentials.ca()))
                    .build();
            return new ClusterClient(channel(target, tls));
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot use the credentials of " + credentials.name() + ": " + e.getMessage(), e);
        }
    }

    public ClusterGrpc.ClusterBlockingStub blocking() {
        return ClusterGrpc.newBlockingStub(channel);
    }

    public ClusterGrpc.ClusterStub async() {
        return ClusterGrpc.newStub(channel);
    }

    public ManagedChannel channel() {
        return channel;
    }

    @Override
    public void close() {
        shutdown(channel);
    }

    /** SHA-256 of the certificate's SubjectPublicKeyInfo: the pin carried in join strings. */
    public static byte[] spkiHash(X509Certificate certificate) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(certificate.getPublicKey().getEncoded());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * One channel over every replica: target is host:port, or several separated by commas, and a host name
     * may resolve to several addresses. Calls are spread over the replicas that answer (round robin); a replica
     * that goes away is dropped from the rotation at once and reconnected in the background with gRPC's
     * backoff, so a caller that retries an UNAVAILABLE call lands on another replica.
     */
    private static final java.util.concurrent.Executor CALLBACKS = java.util.concurrent.Executors
            .newThreadPerTaskExecutor(Thread.ofVirtual().name("cluster-call-", 0).factory());

    static ManagedChannel channel(String target, ChannelCredentials tls) {
        String t = target.contains(",") ? EndpointsResolver.SCHEME + ":///" + target : target;
        // Keepalives notice a dead server under a long WatchPeers stream (the server permits one every 10 s).
        // Callbacks on virtual threads: gRPC's default is a pool of platform threads of its own in every process.
        return NettyChannelBuilder.forTarget(t, tls).overrideAuthority(SERVER_NAME)
                .executor(CALLBACKS).offloadExecutor(CALLBACKS).defaultLoadBalancingPolicy("round_robin")
                .keepAliveTime(30, TimeUnit.SECONDS).keepAliveTimeout(10, TimeUnit.SECONDS).build();
    }

    private static void shutdown(ManagedChannel channel) {
        channel.shutdownNow();
        try {
            channel.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The JDK's PKIX trust manager with one anchor; it also checks the server name (SERVER_NAME) in the SANs. */
    private static X509ExtendedTrustManager caTrustManager(X509Certificate ca) throws GeneralSecurityException {
        KeyStore anchors = KeyStore.getInstance("PKCS12");
        try {
            anchors.load(null, null);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        anchors.setCertificateEntry("ca", ca);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(anchors);
        for (TrustManager tm : tmf.getTrustManagers()) {
            if (tm instanceof X509ExtendedTrustManager x) {
                return x;
            }
        }
        throw new IllegalStateException("the JDK has no X509ExtendedTrustManager");
    }

    /**
     * Trusts a server chain only if it carries a CA certificate whose key hashes to the pin, and the rest of the
     * chain verifies against that CA. This is kubeadm's discovery-token-ca-cert-hash: nothing else is trusted.
     */
    private static final class PinnedCaTrustManager extends X509ExtendedTrustManager {
        private final byte[] pin;

        PinnedCaTrustManager(byte[] pin) {
            this.pin = pin.clone();
        }

        private X509ExtendedTrustManager delegate(X509Certificate[] chain) throws CertificateException {
            for (X509Certificate c : chain) {
                if (MessageDigest.isEqual(spkiHash(c), pin)) {
                    try {
                        return caTrustManager(c);
                    } catch (GeneralSecurityException e) {
                        throw new CertificateException(e);
                    }
                }
            }
            throw new CertificateException("the server's CA does not match the join token's CA hash");
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            delegate(chain).checkServerTrusted(chain, authType, engine);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            delegate(chain).checkServerTrusted(chain, authType, socket);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            delegate(chain).checkServerTrusted(chain, authType);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            throw new CertificateException("a client trust manager");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            throw new CertificateException("a client trust manager");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            throw new CertificateException("a client trust manager");
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}
