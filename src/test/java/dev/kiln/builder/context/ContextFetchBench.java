package dev.kiln.builder.context;

import dev.kiln.builder.context.support.GitDaemon;
import dev.kiln.builder.context.support.GitHttpServer;
import dev.kiln.cloud.AwsCredentialChain;
import dev.kiln.cloud.support.MotoServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * bench/cloud-contexts.sh's measurements (not a test): time to fetch the same context from moto's S3
 * (credentials from a profile file) and from git http-backend over HTTPS with a token (JGit), and,
 * with {@code chain ...} arguments, one cold resolution of the AWS chain in this fresh JVM.
 */
public final class ContextFetchBench {
    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("chain")) {
            coldChain(args);
            return;
        }
        int rounds = Integer.parseInt(args.length > 0 ? args[0] : "7");
        int files = Integer.parseInt(args.length > 1 ? args[1] : "500");
        Path dir = Files.createTempDirectory("kiln-bench-contexts");
        Path src = Files.createDirectories(dir.resolve("src"));
        for (int i = 0; i < files; i++) {
            Files.writeString(src.resolve("f" + i + ".txt"), ("line " + i + "\n").repeat(200));
        }
        Files.writeString(src.resolve("Dockerfile"), "FROM scratch\nCOPY . /\n");
        Path tar = dir.resolve("ctx.tar.gz");
        GitDaemon.run(dir, List.of("tar", "-czf", tar.toString(), "-C", "src", "."));
        Path repos = Files.createDirectories(dir.resolve("repos"));
        GitDaemon.git(dir, "init", "--quiet", "-b", "main", src.toString());
        GitDaemon.git(src, "add", ".");
        GitDaemon.git(src, "commit", "--quiet", "-m", "ctx");
        GitDaemon.git(dir, "clone", "--quiet", "--bare", src.toString(), repos.resolve("ctx.git").toString());
        System.out.printf(Locale.ROOT, "context: %d files, tar.gz %d bytes%n", files + 1, Files.size(tar));
        try (MotoServer moto = MotoServer.start(dir, tar);
             GitHttpServer git = GitHttpServer.serve(repos, true, dir, "bench", "token")) {
            Path credentials = dir.resolve("credentials");
            Files.writeString(credentials, "[default]\naws_access_key_id = " + moto.accessKeyId + "\naws_secret_access_key = "
                    + moto.secretAccessKey + "\n");
            System.setProperty("aws.sharedCredentialsFile", credentials.toString());
            System.setProperty("aws.configFile", dir.resolve("none").toString());
            AwsCredentialChain chain = new AwsCredentialChain();
            Map<String, String> s3env = Map.of("S3_ENDPOINT", moto.endpoint(), "S3_FORCE_PATH_STYLE", "true");
            List<Long> s3 = new ArrayList<>();
            List<Long> jgit = new ArrayList<>();
            for (int i = 0; i < rounds; i++) {
                Path w = Files.createDirectories(dir.resolve("s3-" + i));
                long t0 = System.nanoTime();
                S3Context.parse("s3://" + MotoServer.BUCKET + "/" + MotoServer.KEY, s3env, x -> { }, x -> { }, chain).materialize(w);
                s3.add((System.nanoTime() - t0) / 1_000_000);
                Path g = Files.createDirectories(dir.resolve("git-" + i));
                t0 = System.nanoTime();
                GitContext.parse(git.url("ctx.git").replace("https://", "git://"), GitOptions.parse(List.of("insecure-skip-tls=true")),
                        Map.of("GIT_USERNAME", "bench", "GIT_PASSWORD", "token"), x -> { }).materialize(g);
                jgit.add((System.nanoTime() - t0) / 1_000_000);
            }
            System.out.println("s3 (moto, profile credentials) ms: " + s3 + " median " + median(s3));
            System.out.println("git (JGit, https + token) ms: " + jgit + " median " + median(jgit));
        }
        GitDaemon.run(dir.getParent(), List.of("rm", "-rf", dir.toString()));
    }

    /** {@code chain NAME}: system properties for one source are set by the caller; prints the first resolve's time. */
    private static void coldChain(String[] args) {
        long t0 = System.nanoTime();
        AwsCredentialChain.Found found = new AwsCredentialChain().resolve(Map.of());
        long ms = (System.nanoTime() - t0) / 1_000_000;
        System.out.println("chain " + args[1] + " " + ms + " ms " + (found.credentials().isPresent() ? found.source() : "none: " + found.whyNone()));
    }

    private static long median(List<Long> values) {
        List<Long> sorted = new ArrayList<>(values);
        sorted.sort(null);
        return sorted.get(sorted.size() / 2);
    }
}
