package dev.kiln.store.s3;

import dev.kiln.store.FsFiles;
import dev.kiln.store.Store;
import dev.kiln.store.StoreNotUsableException;
import java.io.IOException;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3Configuration;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.presigner.S3Presigner;

/** Opens a store whose blobs, metadata and upload sessions live in an S3-compatible bucket. */
public final class S3Store {
    private S3Store() {
    }

    /**
     * Checks that the bucket answers before anything else starts: a wrong endpoint, bucket or key is
     * refused here, once, rather than by every later request with a 500.
     */
    public static Store open(S3Settings settings, AwsCredentialsProvider credentials) throws IOException {
        S3Client client = client(settings, credentials);
        try {
            client.headBucket(b -> b.bucket(settings.bucket()));
        } catch (S3Exception e) {
            client.close();
            throw new StoreNotUsableException("the store " + settings.url() + " cannot be used (" + e.statusCode() + " "
                    + (e.awsErrorDetails() != null ? e.awsErrorDetails().errorCode() : e.getMessage())
                    + "): create the bucket, or check --s3-endpoint, --s3-region and the credentials", e);
        } catch (SdkException e) {
            client.close();
            throw new StoreNotUsableException("the store " + settings.url() + " cannot be reached (" + e.getMessage()
                    + "): check --s3-endpoint and the network", e);
        }
        S3Presigner.Builder presignerBuilder = S3Presigner.builder()
                .region(Region.of(settings.region()))
                .credentialsProvider(credentials)
                .serviceConfiguration(S3Configuration.builder().pathStyleAccessEnabled(settings.pathStyle()).build());
        settings.endpoint().ifPresent(presignerBuilder::endpointOverride);
        S3Presigner presigner = presignerBuilder.build();
        S3Objects objects = new S3Objects(client, presigner, settings.bucket(), settings.prefix());
        FsFiles.createDirectories(settings.localDir());
        BlobCache cache = new BlobCache(settings.localDir(), settings.cacheBytes());
        S3BlobStore blobs = new S3BlobStore(objects, cache, settings.redirect());
        return new Store(settings.localDir().toAbsolutePath().normalize(), blobs, new S3UploadStore(objects, blobs, cache),
                new S3MetadataStore(objects), name -> new S3StoreLock(objects, name, java.time.Clock.systemUTC()),
                new S3BuildArchive(objects));
    }

    private static S3Client client(S3Settings settings, AwsCredentialsProvider credentials) {
        return S3Client.builder()
                .httpClient(UrlConnectionHttpClient.create())
                .region(Region.of(settings.region()))
                .credentialsProvider(credentials)
                .forcePathStyle(settings.pathStyle())
                .applyMutation(b -> settings.endpoint().ifPresent(b::endpointOverride))
                .build();
    }
}
