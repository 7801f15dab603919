package builder

import (
	"context"
	"fmt"
	"slices"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TagOptions tune Tag.
type TagOptions struct {
	// InsecureRegistries are host:port reached over plain HTTP.
	InsecureRegistries []string
	// Keychain gives registry credentials; nil is the Docker config ($DOCKER_CONFIG).
	Keychain authn.Keychain
}

// Tag gives the image src more names without rebuilding it: its manifest (or index) is copied
// byte for byte to each target, so the digest stays the same; blobs are mounted or copied when
// a target is in another repository. It returns the digest.
func Tag(ctx context.Context, src string, targets []string, o TagOptions) (string, error) {
	if len(targets) == 0 {
		return "", fmt.Errorf("no target to tag %s as", src)
	}
	keychain := o.Keychain
	if keychain == nil {
		keychain = authn.DefaultKeychain
	}
	srcRef, err := o.parse(src)
	if err != nil {
		return "", err
	}
	remoteOpts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(keychain)}
	puller, err := remote.NewPuller(remoteOpts...)
	if err != nil {
		return "", err
	}
	pusher, err := remote.NewPusher(remoteOpts...)
	if err != nil {
		return "", err
	}
	desc, err := puller.Get(ctx, srcRef)
	if err != nil {
		return "", fmt.Errorf("get %s: %w", src, err)
	}
	for _, t := range targets {
		ref, err := o.parse(t)
		if err != nil {
			return "", err
		}
		if err := pusher.Push(ctx, ref, desc); err != nil {
			return "", fmt.Errorf("tag %s: %w", t, err)
		}
	}
	return desc.Digest.String(), nil
}

func (o TagOptions) parse(ref string) (name.Reference, error) {
	var opts []name.Option
	if slices.Contains(o.InsecureRegistries, registryHost(ref)) {
		opts = append(opts, name.Insecure)
	}
	r, err := name.ParseReference(ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", ref, err)
	}
	return r, nil
}
