package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/applicationcredentials"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
)

// keystoneToken: the token the client was issued (project, user, roles, expiry) and its validation
// through GET /v3/auth/tokens, as a service validating a caller's token does; an unknown token is 404.
func keystoneToken(ctx context.Context, e *env, c *services, _ *undo) error {
	issued, ok := e.provider.GetAuthResult().(tokens.CreateResult)
	if !ok {
		return fmt.Errorf("auth result is %T, want a Keystone v3 token", e.provider.GetAuthResult())
	}
	token, err := issued.ExtractToken()
	if err != nil {
		return err
	}
	if token.ID == "" || !token.ExpiresAt.After(time.Now()) {
		return fmt.Errorf("token id %q expires %v: want an id and a future expiry", token.ID, token.ExpiresAt)
	}
	project, err := issued.ExtractProject()
	if err != nil || project == nil || project.ID == "" {
		return fmt.Errorf("token has no project scope (%v)", err)
	}
	user, err := issued.ExtractUser()
	if err != nil {
		return err
	}
	roles, err := issued.ExtractRoles()
	if err != nil || len(roles) == 0 {
		return fmt.Errorf("token has no roles (%v)", err)
	}

	identity := c.identity
	validated := tokens.Get(ctx, identity, token.ID)
	again, err := validated.ExtractUser()
	if err != nil {
		return fmt.Errorf("validating the token: %w", err)
	}
	if err := expect("validated token's user", again.ID, user.ID); err != nil {
		return err
	}
	if valid, err := tokens.Validate(ctx, identity, token.ID); err != nil || !valid {
		return fmt.Errorf("HEAD /v3/auth/tokens: valid=%v, %v", valid, err)
	}
	return want404(tokens.Get(ctx, identity, "gAAAAABnotatoken0000000000").Err, "validating an unknown token")
}

// serviceClients are the constructors OCCM and Cinder CSI find their endpoints with, by service type.
var serviceClients = map[string]func(*gophercloud.ProviderClient, gophercloud.EndpointOpts) (*gophercloud.ServiceClient, error){
	"identity":      openstack.NewIdentityV3,
	"compute":       openstack.NewComputeV2,
	"image":         openstack.NewImageV2,
	"network":       openstack.NewNetworkV2,
	"load-balancer": openstack.NewLoadBalancerV2,
	"block-storage": openstack.NewBlockStorageV3,
	"object-store":  openstack.NewObjectStorageV1,
}

// keystoneCatalog: every service type the clients use has an endpoint in the token's catalog for the
// region and interface asked, found the way gophercloud's constructors find it.
func keystoneCatalog(_ context.Context, e *env, _ *services, _ *undo) error {
	var errs []error
	for _, kind := range []string{"identity", "compute", "image", "network", "load-balancer", "block-storage", "object-store"} {
		client, err := serviceClients[kind](e.provider, e.eo)
		if err == nil && client.Endpoint == "" {
			err = errors.New("empty endpoint")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s endpoint: %w", kind, err))
		}
	}
	return errors.Join(errs...)
}

// keystoneApplicationCredential: the way a cluster's cloud controller and CSI authenticate (kaas
// hands them an application credential): one made for the caller, used by id and by name with the
// user, scoped to the caller's project and good for a service call; a wrong secret is 401, the
// credential once deleted 404.
func keystoneApplicationCredential(ctx context.Context, e *env, c *services, u *undo) error {
	issued := e.provider.GetAuthResult().(tokens.CreateResult)
	user, err := issued.ExtractUser()
	if err != nil {
		return err
	}
	project, err := issued.ExtractProject()
	if err != nil {
		return err
	}
	made, err := applicationcredentials.Create(ctx, c.identity, user.ID, applicationcredentials.CreateOpts{
		Name:        e.run + "-ac",
		Description: "gophercloud conformance",
	}).Extract()
	if err != nil {
		return fmt.Errorf("application credential create: %w", err)
	}
	u.add(func(ctx context.Context) error {
		return applicationcredentials.Delete(ctx, c.identity, user.ID, made.ID).ExtractErr()
	})
	// Logs in with the credential's variables, where the user lives and nothing else (no password,
	// no project), as a cloud controller's configuration has them.
	login := func(vars map[string]string) (*gophercloud.ProviderClient, error) {
		for _, k := range []string{"OS_AUTH_URL", "OS_USERNAME", "OS_USER_ID", "OS_USER_DOMAIN_NAME", "OS_USER_DOMAIN_ID"} {
			vars[k] = e.getenv(k)
		}
		return openstack.AuthenticatedClient(ctx, authOptions(func(k string) string { return vars[k] }))
	}
	for _, vars := range []map[string]string{
		{"OS_APPLICATION_CREDENTIAL_ID": made.ID, "OS_APPLICATION_CREDENTIAL_SECRET": made.Secret},
		{"OS_APPLICATION_CREDENTIAL_NAME": made.Name, "OS_APPLICATION_CREDENTIAL_SECRET": made.Secret},
	} {
		provider, err := login(vars)
		if err != nil {
			return fmt.Errorf("authenticating with the application credential: %w", err)
		}
		scoped, err := provider.GetAuthResult().(tokens.CreateResult).ExtractProject()
		if err != nil || scoped == nil || scoped.ID != project.ID {
			return fmt.Errorf("application credential token's project: %+v (%v), want %s", scoped, err, project.ID)
		}
		compute, err := openstack.NewComputeV2(provider, e.eo)
		if err != nil {
			return err
		}
		if _, err := list(ctx, flavors.ListDetail(compute, nil), flavors.ExtractFlavors); err != nil {
			return fmt.Errorf("flavor list with the application credential: %w", err)
		}
	}
	_, err = login(map[string]string{"OS_APPLICATION_CREDENTIAL_ID": made.ID, "OS_APPLICATION_CREDENTIAL_SECRET": "wrong"})
	if err := wantCode(err, 401, "authenticating with a wrong secret"); err != nil {
		return err
	}
	if err := applicationcredentials.Delete(ctx, c.identity, user.ID, made.ID).ExtractErr(); err != nil {
		return err
	}
	_, err = login(map[string]string{"OS_APPLICATION_CREDENTIAL_ID": made.ID, "OS_APPLICATION_CREDENTIAL_SECRET": made.Secret})
	// Keystone looks the credential up before it checks the secret: a deleted one is 404, not 401.
	return want404(err, "authenticating with a deleted application credential")
}
