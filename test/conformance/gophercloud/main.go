// Command gophercloud-conformance drives an OpenStack cloud with gophercloud, the library
// openstack-cloud-controller-manager and Cinder CSI are built on, through the calls they make.
// It authenticates from the OS_* environment (password or application credential, as an openrc or
// `kaas dev` gives them), runs the named checks (all by default) concurrently and prints one JSON
// line per check: {"check":"...","ok":true,"ms":...} or {"check":"...","ok":false,"ms":...,"error":"..."}.
// `-list` prints the check names, one a line. Every resource a check makes is named with a per-run
// prefix and deleted before the check ends, also when it fails.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/pagination"
)

// env is what every check shares: the authenticated provider, how endpoints are chosen and the
// run's name prefix.
type env struct {
	provider *gophercloud.ProviderClient
	eo       gophercloud.EndpointOpts
	run      string
	clients  func() (*services, error)
	// getenv reads the OS_* variables the run was started with.
	getenv func(string) string
}

// services are the clients of the services the checks drive, found in the catalog once.
type services struct {
	identity, compute, network, image, lb, block *gophercloud.ServiceClient
}

// findServices finds every service's endpoint, or says which it could not find.
func findServices(provider *gophercloud.ProviderClient, eo gophercloud.EndpointOpts) (*services, error) {
	var errs []error
	find := func(kind string) *gophercloud.ServiceClient {
		client, err := serviceClients[kind](provider, eo)
		errs = append(errs, err)
		return client
	}
	s := &services{
		identity: find("identity"),
		compute:  find("compute"),
		network:  find("network"),
		image:    find("image"),
		lb:       find("load-balancer"),
		block:    find("block-storage"),
	}
	if s.compute != nil {
		// Nova takes tags at server create from microversion 2.52 on.
		s.compute.Microversion = "2.52"
	}
	return s, errors.Join(errs...)
}

// list is what extract reads from all of a pager's pages.
func list[T any](ctx context.Context, pager pagination.Pager, extract func(pagination.Page) (T, error)) (T, error) {
	pages, err := pager.AllPages(ctx)
	if err != nil {
		var none T
		return none, err
	}
	return extract(pages)
}

// undo is a check's stack of cleanup steps, run in reverse when the check ends.
type undo struct{ steps []func(context.Context) error }

func (u *undo) add(step func(context.Context) error) { u.steps = append(u.steps, step) }

// check is one conformance check: it returns an error where the cloud answers otherwise than
// OpenStack does.
type check struct {
	name string
	run  func(ctx context.Context, e *env, c *services, u *undo) error
}

// checks lists every check in the order they are reported by -list.
var checks = []check{
	{"keystone.token", keystoneToken},
	{"keystone.catalog", keystoneCatalog},
	{"keystone.application-credential", keystoneApplicationCredential},
	{"nova.flavors", novaFlavors},
	{"nova.servers", novaServers},
	{"glance.images", glanceImages},
	{"neutron.networks", neutronNetworks},
	{"neutron.security-groups", neutronSecurityGroups},
	{"octavia.loadbalancer", octaviaLoadBalancer},
	{"cinder.volumes", cinderVolumes},
	{"cinder.snapshots", cinderSnapshots},
	{"errors.missing", errorsMissing},
}

// result is the line printed for one check.
type result struct {
	Check string `json:"check"`
	OK    bool   `json:"ok"`
	MS    int64  `json:"ms"`
	Error string `json:"error,omitempty"`
}

func main() {
	list := flag.Bool("list", false, "print the check names and exit")
	timeout := flag.Duration("timeout", 10*time.Minute, "limit of each check, its cleanup apart")
	flag.Parse()
	if *list {
		for _, c := range checks {
			fmt.Println(c.name)
		}
		return
	}
	selected, err := selectChecks(flag.Args())
	if err != nil {
		fail(err)
	}
	e, err := connect(context.Background())
	if err != nil {
		fail(err)
	}
	var out sync.Mutex
	var wg sync.WaitGroup
	for _, c := range selected {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := runCheck(e, c, *timeout)
			line, _ := json.Marshal(r)
			out.Lock()
			defer out.Unlock()
			fmt.Println(string(line))
		}()
	}
	wg.Wait()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gophercloud-conformance:", err)
	os.Exit(2)
}

// selectChecks returns the checks named (all when none is), or an error naming an unknown one.
func selectChecks(names []string) ([]check, error) {
	if len(names) == 0 {
		return checks, nil
	}
	var out []check
	for _, name := range names {
		i := slices.IndexFunc(checks, func(c check) bool { return c.name == name })
		if i < 0 {
			return nil, fmt.Errorf("no check named %q (see -list)", name)
		}
		out = append(out, checks[i])
	}
	return out, nil
}

// runCheck runs one check, then its cleanup with a fresh deadline; a failed cleanup fails the check.
func runCheck(e *env, c check, timeout time.Duration) result {
	start := time.Now()
	u := &undo{}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	clients, err := e.clients()
	if err == nil {
		err = c.run(ctx, e, clients, u)
	}
	cancel()
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for i := len(u.steps) - 1; i >= 0; i-- {
		if cerr := u.steps[i](ctx); cerr != nil && !gophercloud.ResponseCodeIs(cerr, 404) {
			err = errors.Join(err, fmt.Errorf("cleanup: %w", cerr))
		}
	}
	r := result{Check: c.name, OK: err == nil, MS: time.Since(start).Milliseconds()}
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

// authOptions are the credentials the OS_* variables (read through get) name, as clouds.yaml/openrc
// users give them: a password scoped to a project (OS_PROJECT_* with OS_USER_DOMAIN_* and
// OS_PROJECT_DOMAIN_*), or an application credential (OS_APPLICATION_CREDENTIAL_ID, or _NAME with
// the user, and _SECRET), which carries its own project.
func authOptions(get func(string) string) gophercloud.AuthOptions {
	opts := gophercloud.AuthOptions{
		IdentityEndpoint: get("OS_AUTH_URL"),
		AllowReauth:      true,
		Username:         get("OS_USERNAME"),
		UserID:           get("OS_USER_ID"),
		DomainName:       get("OS_USER_DOMAIN_NAME"),
		DomainID:         get("OS_USER_DOMAIN_ID"),
	}
	if get("OS_APPLICATION_CREDENTIAL_SECRET") != "" {
		opts.ApplicationCredentialID = get("OS_APPLICATION_CREDENTIAL_ID")
		opts.ApplicationCredentialName = get("OS_APPLICATION_CREDENTIAL_NAME")
		opts.ApplicationCredentialSecret = get("OS_APPLICATION_CREDENTIAL_SECRET")
		return opts
	}
	opts.Password = get("OS_PASSWORD")
	opts.Scope = &gophercloud.AuthScope{
		ProjectID:   get("OS_PROJECT_ID"),
		ProjectName: get("OS_PROJECT_NAME"),
		DomainName:  get("OS_PROJECT_DOMAIN_NAME"),
		DomainID:    get("OS_PROJECT_DOMAIN_ID"),
	}
	if opts.Scope.ProjectName != "" && opts.Scope.DomainName == "" && opts.Scope.DomainID == "" {
		opts.Scope.DomainName = opts.DomainName
		opts.Scope.DomainID = opts.DomainID
	}
	return opts
}

// connect authenticates as the OS_* environment says (authOptions).
func connect(ctx context.Context) (*env, error) {
	get := os.Getenv
	if get("OS_AUTH_URL") == "" {
		return nil, errors.New("OS_AUTH_URL is not set")
	}
	opts := authOptions(get)
	provider, err := openstack.AuthenticatedClient(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("authenticating at %s: %w", opts.IdentityEndpoint, err)
	}
	availability := gophercloud.AvailabilityPublic
	if v := get("OS_INTERFACE"); v != "" {
		availability = gophercloud.Availability(v)
	}
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		return nil, err
	}
	eo := gophercloud.EndpointOpts{Region: get("OS_REGION_NAME"), Availability: availability}
	return &env{
		provider: provider,
		eo:       eo,
		run:      "gc-" + hex.EncodeToString(suffix),
		clients:  sync.OnceValues(func() (*services, error) { return findServices(provider, eo) }),
		getenv:   get,
	}, nil
}

// want404 holds when err is gophercloud's ErrUnexpectedResponseCode for a 404, as the clients test it.
func want404(err error, what string) error {
	return wantCode(err, 404, what)
}

// wantCode holds when err is gophercloud's ErrUnexpectedResponseCode with the status given.
func wantCode(err error, status int, what string) error {
	if err == nil {
		return fmt.Errorf("%s succeeded; want %d", what, status)
	}
	if !gophercloud.ResponseCodeIs(err, status) {
		return fmt.Errorf("%s: %v; want ErrUnexpectedResponseCode %d", what, err, status)
	}
	return nil
}

// waitGone polls get until it answers 404.
func waitGone(ctx context.Context, what string, get func(context.Context) error) error {
	err := gophercloud.WaitFor(ctx, func(ctx context.Context) (bool, error) {
		err := get(ctx)
		if gophercloud.ResponseCodeIs(err, 404) {
			return true, nil
		}
		return false, err
	})
	if err != nil {
		return fmt.Errorf("waiting for %s to be gone: %w", what, err)
	}
	return nil
}

// waitStatus polls get until it returns want; a status in failed (or an error) ends the wait.
func waitStatus(ctx context.Context, what, want string, get func(context.Context) (string, error), failed ...string) error {
	last := ""
	err := gophercloud.WaitFor(ctx, func(ctx context.Context) (bool, error) {
		status, err := get(ctx)
		last = status
		if err == nil && slices.Contains(failed, status) {
			err = fmt.Errorf("status %s", status)
		}
		return status == want, err
	})
	if err != nil {
		return fmt.Errorf("waiting for %s to be %s (last %q): %w", what, want, last, err)
	}
	return nil
}

// statusOf is the status field of what a get returned, or its error.
func statusOf[T any](got *T, err error, field func(*T) string) (string, error) {
	if err != nil {
		return "", err
	}
	return field(got), nil
}

// expect returns an error saying what differs when got is not want.
func expect[T comparable](what string, got, want T) error {
	if got != want {
		return fmt.Errorf("%s: got %v, want %v", what, got, want)
	}
	return nil
}
