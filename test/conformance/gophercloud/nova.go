package main

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
)

// computeClient is Nova at microversion 2.52, the first that takes tags at server create.
func computeClient(e *env) (*gophercloud.ServiceClient, error) {
	compute, err := openstack.NewComputeV2(e.provider, e.eo)
	if err != nil {
		return nil, err
	}
	compute.Microversion = "2.52"
	return compute, nil
}

// smallestFlavor is the flavor with the least RAM the project can use.
func smallestFlavor(ctx context.Context, compute *gophercloud.ServiceClient) (flavors.Flavor, error) {
	pages, err := flavors.ListDetail(compute, nil).AllPages(ctx)
	if err != nil {
		return flavors.Flavor{}, err
	}
	all, err := flavors.ExtractFlavors(pages)
	if err != nil {
		return flavors.Flavor{}, err
	}
	if len(all) == 0 {
		return flavors.Flavor{}, fmt.Errorf("no flavor is visible to the project")
	}
	return slices.MinFunc(all, func(a, b flavors.Flavor) int { return a.RAM - b.RAM }), nil
}

// novaFlavors: flavors list (detail) and get, as OCCM's instance type lookup does.
func novaFlavors(ctx context.Context, e *env, _ *undo) error {
	compute, err := computeClient(e)
	if err != nil {
		return err
	}
	flavor, err := smallestFlavor(ctx, compute)
	if err != nil {
		return err
	}
	got, err := flavors.Get(ctx, compute, flavor.ID).Extract()
	if err != nil {
		return err
	}
	if got.Name != flavor.Name || got.RAM != flavor.RAM || got.VCPUs != flavor.VCPUs || got.Disk != flavor.Disk {
		return fmt.Errorf("flavor get %+v differs from its list entry %+v", *got, flavor)
	}
	return nil
}

// novaServers: a server booted with metadata and tags, found as OCCM finds a node's server (list by
// exact name and status, get, its addresses through /ips and its port by device_id), one metadata key
// read and updated, then deleted until its get answers 404.
func novaServers(ctx context.Context, e *env, u *undo) error {
	compute, err := computeClient(e)
	if err != nil {
		return err
	}
	network, err := openstack.NewNetworkV2(e.provider, e.eo)
	if err != nil {
		return err
	}
	flavor, err := smallestFlavor(ctx, compute)
	if err != nil {
		return err
	}
	imageID, err := makeImage(ctx, e, u, e.run+"-server-image")
	if err != nil {
		return err
	}
	netID, _, err := makeNetwork(ctx, e, u, e.run+"-server", "10.211.0.0/24")
	if err != nil {
		return err
	}

	name := e.run + "-server"
	server, err := servers.Create(ctx, compute, servers.CreateOpts{
		Name:      name,
		ImageRef:  imageID,
		FlavorRef: flavor.ID,
		Networks:  []servers.Network{{UUID: netID}},
		Metadata:  map[string]string{"kaas-role": "master", "kaas-cluster": e.run},
		Tags:      []string{e.run},
	}, nil).Extract()
	if err != nil {
		return fmt.Errorf("server create: %w", err)
	}
	deleteServer := func(ctx context.Context) error {
		if err := servers.Delete(ctx, compute, server.ID).ExtractErr(); err != nil {
			return err
		}
		return waitGone(ctx, "server "+server.ID, func(ctx context.Context) error {
			return servers.Get(ctx, compute, server.ID).Err
		})
	}
	u.add(deleteServer)
	if err := servers.WaitForStatus(ctx, compute, server.ID, "ACTIVE"); err != nil {
		return fmt.Errorf("waiting for the server to be ACTIVE: %w", err)
	}

	pages, err := servers.List(compute, servers.ListOpts{
		Name:   "^" + regexp.QuoteMeta(name) + "$",
		Status: "ACTIVE",
	}).AllPages(ctx)
	if err != nil {
		return fmt.Errorf("server list by name and status: %w", err)
	}
	listed, err := servers.ExtractServers(pages)
	if err != nil {
		return err
	}
	if len(listed) != 1 || listed[0].ID != server.ID {
		return fmt.Errorf("server list name=^%s$ status=ACTIVE: got %d servers, want exactly %s", name, len(listed), server.ID)
	}

	got, err := servers.Get(ctx, compute, server.ID).Extract()
	if err != nil {
		return err
	}
	if got.Name != name || got.Metadata["kaas-role"] != "master" || got.Tags == nil || !slices.Contains(*got.Tags, e.run) {
		return fmt.Errorf("server get: name %q, metadata %v, tags %v", got.Name, got.Metadata, got.Tags)
	}

	address, err := serverAddress(ctx, compute, server.ID, e.run+"-server")
	if err != nil {
		return err
	}
	portPages, err := ports.List(network, ports.ListOpts{DeviceID: server.ID}).AllPages(ctx)
	if err != nil {
		return fmt.Errorf("port list device_id=%s: %w", server.ID, err)
	}
	attached, err := ports.ExtractPorts(portPages)
	if err != nil {
		return err
	}
	if len(attached) != 1 || len(attached[0].FixedIPs) == 0 || attached[0].FixedIPs[0].IPAddress != address {
		return fmt.Errorf("ports of device %s: %+v, want one with %s", server.ID, attached, address)
	}

	if err := serverMetadata(ctx, compute, server.ID, e.run); err != nil {
		return err
	}

	if err := deleteServer(ctx); err != nil {
		return err
	}
	return want404(servers.Get(ctx, compute, server.ID).Err, "get of the deleted server")
}

// serverAddress is the server's IPv4 address on the network named, read from /servers/{id}/ips.
func serverAddress(ctx context.Context, compute *gophercloud.ServiceClient, id, network string) (string, error) {
	pages, err := servers.ListAddresses(compute, id).AllPages(ctx)
	if err != nil {
		return "", fmt.Errorf("server ips: %w", err)
	}
	addresses, err := servers.ExtractAddresses(pages)
	if err != nil {
		return "", err
	}
	for _, a := range addresses[network] {
		if a.Version == 4 && strings.HasPrefix(a.Address, "10.211.0.") {
			return a.Address, nil
		}
	}
	return "", fmt.Errorf("server ips: %v has no 10.211.0.x address on %s", addresses, network)
}

// serverMetadata: one key read, updated and read again, the whole set read; a missing key is 404
// and a key longer than 255 characters is 400.
func serverMetadata(ctx context.Context, compute *gophercloud.ServiceClient, id, run string) error {
	one, err := servers.Metadatum(ctx, compute, id, "kaas-role").Extract()
	if err != nil {
		return fmt.Errorf("metadata key get: %w", err)
	}
	if err := expect("metadata kaas-role", one["kaas-role"], "master"); err != nil {
		return err
	}
	set, err := servers.CreateMetadatum(ctx, compute, id, servers.MetadatumOpts{"kaas-role": "worker"}).Extract()
	if err != nil {
		return fmt.Errorf("metadata key update: %w", err)
	}
	if err := expect("updated metadata kaas-role", set["kaas-role"], "worker"); err != nil {
		return err
	}
	all, err := servers.Metadata(ctx, compute, id).Extract()
	if err != nil {
		return fmt.Errorf("metadata get: %w", err)
	}
	if all["kaas-role"] != "worker" || all["kaas-cluster"] != run {
		return fmt.Errorf("metadata after the update: %v", all)
	}
	if err := want404(servers.Metadatum(ctx, compute, id, "no-such-key").Err, "get of a missing metadata key"); err != nil {
		return err
	}
	long := servers.MetadatumOpts{strings.Repeat("k", 256): "v"}
	return wantCode(servers.CreateMetadatum(ctx, compute, id, long).Err, 400, "a 256-character metadata key")
}
