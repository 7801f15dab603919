package builder

import (
	"errors"
	"regexp"
	"strconv"

	gatewaypb "github.com/moby/buildkit/frontend/gateway/pb"
)

// exitCodeText is how a failed RUN reads when the typed error did not survive the trip:
// `process "/bin/sh -c ..." did not complete successfully: exit code: 3`.
var exitCodeText = regexp.MustCompile(`exit code: (\d+)`)

// ExitCode is the exit code of the build step that failed err: 0 for nil, the step's own code
// when a RUN failed, 1 for any other failure. Codes beyond 255 (and buildkit's "unknown",
// 255 itself stays) are reported as 1, since a process cannot exit with them.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *gatewaypb.ExitError
	if errors.As(err, &ee) && ee.ExitCode > 0 && ee.ExitCode <= 255 {
		return int(ee.ExitCode)
	}
	if m := exitCodeText.FindAllStringSubmatch(err.Error(), -1); m != nil {
		if n, convErr := strconv.Atoi(m[len(m)-1][1]); convErr == nil && n > 0 && n <= 255 {
			return n
		}
	}
	return 1
}
