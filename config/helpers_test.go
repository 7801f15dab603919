package config

import (
	"fmt"
	"reflect"
	"strings"
)

func reflectTypeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

func withDefaults(k Kubernetes) Kubernetes {
	k.SetDefaults()
	return k
}

// aliasBomb is a one-line document whose merge keys expand to 10^depth mappings.
func aliasBomb(depth int) string {
	s := "&a0 {log_level: info}"
	for i := 1; i <= depth; i++ {
		s = fmt.Sprintf("&a%d {<<: [%s%s]}", i, s, strings.Repeat(fmt.Sprintf(", *a%d", i-1), 9))
	}
	return "<<: " + s + "\n"
}

// runner is a valid runner entry on lines 1-4, for cases that add one bad key on line 5.
const runner = `runners:
  - name: a
    url: https://gitlab.example.com
    token: glrt-secret-token
`
