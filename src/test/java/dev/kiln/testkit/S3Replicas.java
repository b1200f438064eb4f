package dev.kiln.testkit;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Several {@code kiln serve} on one moto bucket, each with a local directory of its own: replicas of one store. */
public final class S3Replicas implements AutoCloseable {
    private final MotoS3 moto;
    private final String bucket;
    private final Path work;
    private final List<KilnProcess> replicas = new ArrayList<>();

    private S3Replicas(MotoS3 moto, String bucket, Path work) {
        this.moto = moto;
        this.bucket = bucket;
        this.work = work;
    }

    public static S3Replicas start(Path work, String bucket) throws IOException, InterruptedException {
        return new S3Replicas(MotoS3.start(work, bucket), bucket, work);
    }

    public String store() {
        return "s3://" + bucket + "/kiln";
    }

    /** Starts a replica; {@code env} adds NAME=VALUE settings, e.g. KILN_GC_INTERVAL=1s. */
    public KilnProcess start(String name, String... env) {
        List<String> prefix = new ArrayList<>(List.of("env", "AWS_ACCESS_KEY_ID=" + MotoS3.ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY=" + MotoS3.SECRET_KEY, "AWS_REGION=us-east-1",
                "KILN_STORE_S3_LOCAL_DIR=" + work.resolve(name + "-local")));
        prefix.addAll(List.of(env));
        KilnProcess kiln = KilnProcess.startOn(name, prefix, store(), "--s3-endpoint", moto.endpoint(), "--s3-path-style");
        replicas.add(kiln);
        return kiln;
    }

    /** {@code kiln <args…>} as its own process on the bucket, e.g. {@code fsck --store} {@link #store()}. */
    public ExecResult command(String... args) {
        return KilnProcess.run(Map.of("AWS_ACCESS_KEY_ID", MotoS3.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY", MotoS3.SECRET_KEY,
                "AWS_REGION", "us-east-1", "KILN_STORE_S3_ENDPOINT", moto.endpoint(), "KILN_STORE_S3_PATH_STYLE", "true",
                "KILN_STORE_S3_LOCAL_DIR", work.resolve("command-local").toString()), args);
    }

    /** Every replica's log tail and moto's, for failure messages. */
    public String logs() {
        StringBuilder out = new StringBuilder();
        for (KilnProcess kiln : replicas) {
            out.append("\n--- ").append(kiln.baseUrl()).append(":\n").append(kiln.logTail());
        }
        return out.append("\n--- moto:\n").append(moto.logTail()).toString();
    }

    @Override
    public void close() {
        replicas.forEach(KilnProcess::stop);
        moto.close();
    }
}
