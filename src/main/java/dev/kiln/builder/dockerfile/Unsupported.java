package dev.kiln.builder.dockerfile;

import java.util.Optional;

/**
 * Dockerfile flags Kiln parses but does not carry out. A build that uses one stops before any
 * step with a line that names it, instead of building something other than what BuildKit builds.
 */
final class Unsupported {

    private Unsupported() {
    }

    /** Why Kiln cannot build {@code instruction}, if it cannot. */
    static Optional<String> reason(Instruction instruction) {
        if (instruction instanceof Instruction.Add add) {
            if (add.checksum() != null && !add.checksum().isEmpty()) {
                return Optional.of("ADD --checksum is not supported by Kiln yet");
            }
            if (add.keepGitDir()) {
                return Optional.of("ADD --keep-git-dir is not supported by Kiln yet (nor ADD of a git repository)");
            }
        } else if (instruction instanceof Instruction.Run run && run.security().equals("insecure")) {
            return Optional.of("RUN --security=insecure needs the security.insecure entitlement, which Kiln never grants");
        }
        return Optional.empty();
    }
}
