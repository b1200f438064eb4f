package dev.kiln.builder.dockerfile;

import java.util.LinkedHashMap;
import java.util.Map;

/** The platform the build runs on and the one it produces; they feed the automatic platform ARGs. */
public record BuildPlatforms(Platform build, Platform target) {

    /** TARGETPLATFORM, TARGETOS, TARGETARCH, TARGETVARIANT and the BUILD* equivalents. */
    public Map<String, String> automaticArgs() {
        Map<String, String> args = new LinkedHashMap<>();
        put(args, "TARGET", target);
        put(args, "BUILD", build);
        return args;
    }

    private static void put(Map<String, String> args, String prefix, Platform p) {
        args.put(prefix + "PLATFORM", p.toString());
        args.put(prefix + "OS", p.os());
        args.put(prefix + "ARCH", p.architecture());
        args.put(prefix + "VARIANT", p.variant());
    }
}
