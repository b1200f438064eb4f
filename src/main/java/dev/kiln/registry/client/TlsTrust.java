package dev.kiln.registry.client;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import javax.net.ssl.HostnameVerifier;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/** The TLS trust choices Kiln offers for an address: one CA file instead of the system's, or none at all. */
public final class TlsTrust {
    /** For skip-tls-verify: any name is accepted, since no certificate is checked either. */
    public static final HostnameVerifier ANY_HOST = (host, session) -> true;

    private TlsTrust() {
    }

    /** Trusts only the certificates in {@code caFile} (PEM, one or more). */
    public static SSLContext trusting(Path caFile) throws GeneralSecurityException, IOException {
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, trustManagers(caFile).getTrustManagers(), null);
        return context;
    }

    /** The same trust as {@link #trusting(Path)}, for clients that take trust managers (the mirror's Vert.x client). */
    public static TrustManagerFactory trustManagers(Path caFile) throws GeneralSecurityException, IOException {
        KeyStore keyStore = KeyStore.getInstance(KeyStore.getDefaultType());
        keyStore.load(null, null);
        int i = 0;
        try (InputStream in = Files.newInputStream(caFile)) {
            for (Certificate certificate : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                keyStore.setCertificateEntry("ca-" + i++, certificate);
            }
        }
        if (i == 0) {
            throw new GeneralSecurityException("no certificate in " + caFile);
        }
        TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        factory.init(keyStore);
        return factory;
    }

    /** The user chose to trust whatever answers at that address. */
    public static SSLContext trustingEverything() throws GeneralSecurityException {
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, new TrustManager[] {everything()}, null);
        return context;
    }

    public static TrustManager everything() {
        return new TrustEverything();
    }

    /** Whether {@code e} (or a cause) is a failed certificate check rather than a network failure. */
    public static boolean untrustedCertificate(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof java.security.cert.CertificateException
                    || t instanceof java.security.cert.CertPathValidatorException
                    || t instanceof javax.net.ssl.SSLPeerUnverifiedException
                    || (t instanceof javax.net.ssl.SSLHandshakeException && t.getMessage() != null
                    && (t.getMessage().contains("PKIX") || t.getMessage().contains("certificate")))) {
                return true;
            }
        }
        return false;
    }

    private static final class TrustEverything implements X509TrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}
