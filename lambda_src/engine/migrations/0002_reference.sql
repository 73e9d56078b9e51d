-- Reference data: roles and branches (seed §6.2.1). users references both, so they come first.

-- Not defined by the seed, which references roles(role_id) from users.
CREATE TABLE roles (
    role_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    role_name VARCHAR(100) UNIQUE NOT NULL,
    description TEXT,
    -- A JSON array of permission names, e.g. ["mandates:approve", "dcr:submit"].
    permissions JSONB NOT NULL DEFAULT '[]'::jsonb,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    CONSTRAINT roles_role_name_check CHECK (btrim(role_name) <> ''),
    CONSTRAINT roles_permissions_check CHECK (jsonb_typeof(permissions) = 'array')
);

CREATE TABLE branches (
    branch_code VARCHAR(20) PRIMARY KEY,
    branch_name VARCHAR(200) NOT NULL,
    region_code VARCHAR(10),
    address JSONB,
    contact_info JSONB,
    is_active BOOLEAN NOT NULL DEFAULT true,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    CONSTRAINT branches_branch_code_check CHECK (btrim(branch_code) <> ''),
    CONSTRAINT branches_address_check
        CHECK (address IS NULL OR jsonb_typeof(address) = 'object'),
    CONSTRAINT branches_contact_info_check
        CHECK (contact_info IS NULL OR jsonb_typeof(contact_info) = 'object')
);

CREATE INDEX branches_region_code_idx ON branches (region_code);
