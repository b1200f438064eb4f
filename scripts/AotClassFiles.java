// Run by scripts/aot-cache with a JDK 25's source launcher: java scripts/AotClassFiles.java OUT_DIR JAR...
//
// Prints, one a line, the jar to put on kiln-cli.jar's class path for each JAR: the JAR itself, or, when
// some of its classes are older than class-file version 50, OUT_DIR/<its name>: a copy whose old classes
// are version 52 with the stack maps the ClassFile API computes; no instruction changes.
//
// Why: an AOT cache cannot hold a class that the old verifier (class files before version 50) linked in
// the training run ("Old class has been linked"), so every short run loaded, parsed and verified
// picocli's classes (version 49) again, about 170 of them. The copy carries a notice that it was changed
// (Apache License 2.0, section 4 (b)); its other entries, licence included, are the original bytes.
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassFileVersion;
import java.lang.classfile.ClassHierarchyResolver;
import java.lang.classfile.ClassTransform;
import java.lang.classfile.CodeTransform;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Collections;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

public class AotClassFiles {
    static final int OLDEST_CACHEABLE = 50;
    static final int UPGRADED = 52;
    static final String NOTICE = "META-INF/KILN-CHANGED-CLASS-FILES.txt";

    public static void main(String[] args) throws IOException {
        Path out = Path.of(args[0]);
        for (int i = 1; i < args.length; i++) {
            Path jar = Path.of(args[i]);
            System.out.println(hasOldClasses(jar) ? upgraded(jar, out.resolve(jar.getFileName())) : jar);
        }
    }

    static boolean hasOldClasses(Path jar) throws IOException {
        try (ZipFile zip = new ZipFile(jar.toFile())) {
            for (ZipEntry entry : Collections.list(zip.entries())) {
                if (isClass(entry)) {
                    try (var in = zip.getInputStream(entry)) {
                        byte[] head = in.readNBytes(8);
                        if (head.length == 8 && ((head[6] & 0xff) << 8 | (head[7] & 0xff)) < OLDEST_CACHEABLE) {
                            return true;
                        }
                    }
                }
            }
        }
        return false;
    }

    static Path upgraded(Path jar, Path target) throws IOException {
        Files.createDirectories(target.getParent());
        Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
        // stack maps need the common super class of two types: the jar's own classes, then the JDK's
        try (var loader = new URLClassLoader(new URL[] {jar.toUri().toURL()}, null);
                ZipFile zip = new ZipFile(jar.toFile());
                var zipOut = new ZipOutputStream(Files.newOutputStream(tmp))) {
            ClassFile classFile = ClassFile.of(ClassFile.StackMapsOption.GENERATE_STACK_MAPS,
                    ClassFile.ClassHierarchyResolverOption.of(ClassHierarchyResolver.defaultResolver()
                            .orElse(ClassHierarchyResolver.ofResourceParsing(loader))));
            ClassTransform upgrade = ClassTransform.transformingMethodBodies(CodeTransform.ACCEPT_ALL)
                    .andThen((builder, element) -> {
                        if (element instanceof ClassFileVersion) {
                            builder.withVersion(UPGRADED, 0);
                        } else {
                            builder.with(element);
                        }
                    });
            for (ZipEntry entry : Collections.list(zip.entries())) {
                byte[] bytes;
                try (var in = zip.getInputStream(entry)) {
                    bytes = in.readAllBytes();
                }
                if (isClass(entry)) {
                    var model = classFile.parse(bytes);
                    if (model.majorVersion() < OLDEST_CACHEABLE) {
                        bytes = classFile.transformClass(model, upgrade);
                    }
                }
                copy(zipOut, entry, bytes);
            }
            ZipEntry notice = new ZipEntry(NOTICE);
            notice.setTime(315532800000L); // 1980-01-01: the same jar gives the same bytes
            copy(zipOut, notice, ("Kiln changed this copy of " + jar.getFileName() + ": its class files older than version "
                    + OLDEST_CACHEABLE + " are version " + UPGRADED + " with stack maps (scripts/AotClassFiles.java),\n"
                    + "so that a Java ahead-of-time cache can hold them. No instruction was changed.\n").getBytes(StandardCharsets.UTF_8));
        } catch (RuntimeException e) { // the ClassFile API's own failures (an unresolvable type, an old jsr)
            Files.deleteIfExists(tmp);
            throw new IOException("cannot upgrade the class files of " + jar + ": " + e, e);
        }
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return target;
    }

    private static boolean isClass(ZipEntry entry) {
        return entry.getName().endsWith(".class") && !entry.getName().startsWith("META-INF/");
    }

    private static void copy(ZipOutputStream zipOut, ZipEntry entry, byte[] bytes) {
        try {
            ZipEntry copy = new ZipEntry(entry.getName());
            copy.setTime(entry.getTime());
            zipOut.putNextEntry(copy);
            zipOut.write(bytes);
            zipOut.closeEntry();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
