package config

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written in YAML as Go duration text ("30s", "1h").
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// UnmarshalYAML reads Go duration text. A bare number is refused: "30" could mean
// seconds or nanoseconds, and guessing wrong is worse than asking for a unit.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("%q is not a duration (examples: 3s, 1m30s)", n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes d as Go duration text, which UnmarshalYAML reads back.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }
