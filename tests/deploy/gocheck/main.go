// Command deploycheck validates deployment files with the libraries the real tools
// use, for tests/e2e/test_deploy.py (there is no Docker engine or Prometheus here):
//
//	deploycheck compose FILE [PROFILE...]  load FILE as `docker compose config` does
//	                                       (compose-go: schema, interpolation,
//	                                       merge keys, references) and print the
//	                                       resolved project as YAML
//	deploycheck promql EXPR...             parse each PromQL expression (Prometheus'
//	                                       own parser); Grafana's $__ variables must
//	                                       be replaced by durations first
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/prometheus/prometheus/promql/parser"
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "deploycheck: "+format+"\n", args...)
	os.Exit(1)
}

func compose(file string, profiles []string) {
	opts, err := cli.NewProjectOptions([]string{file},
		cli.WithName("millrace"),
		cli.WithProfiles(profiles),
		cli.WithOsEnv,
		cli.WithWorkingDirectory(""))
	if err != nil {
		fail("%s: %v", file, err)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		fail("%s: %v", file, err)
	}
	out, err := project.MarshalYAML()
	if err != nil {
		fail("%s: %v", file, err)
	}
	os.Stdout.Write(out)
}

func promql(exprs []string) {
	bad := 0
	for _, e := range exprs {
		if _, err := parser.ParseExpr(e); err != nil {
			fmt.Fprintf(os.Stderr, "deploycheck: %q: %v\n", e, err)
			bad++
		}
	}
	if bad > 0 {
		os.Exit(1)
	}
	fmt.Printf("%d expressions parsed\n", len(exprs))
}

func main() {
	if len(os.Args) < 3 {
		fail("usage: deploycheck compose FILE [PROFILE...] | promql EXPR...")
	}
	switch os.Args[1] {
	case "compose":
		compose(os.Args[2], os.Args[3:])
	case "promql":
		promql(os.Args[2:])
	default:
		fail("unknown command %q", os.Args[1])
	}
}
