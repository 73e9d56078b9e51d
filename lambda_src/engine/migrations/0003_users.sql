-- Staff users (seed §6.2.1), and the trigger that keeps users.updated_at current.

CREATE TABLE users (
    user_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    username VARCHAR(100) UNIQUE NOT NULL,
    email VARCHAR(255) NOT NULL,
    sam_account_name VARCHAR(100),
    role_id UUID REFERENCES roles (role_id),
    branch_code VARCHAR(20) REFERENCES branches (branch_code),
    is_active BOOLEAN NOT NULL DEFAULT true,
    last_login_at TIMESTAMP WITH TIME ZONE,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    CONSTRAINT users_username_check CHECK (btrim(username) <> ''),
    CONSTRAINT users_email_check CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+$')
);

CREATE INDEX users_role_id_idx ON users (role_id);
CREATE INDEX users_branch_code_idx ON users (branch_code);
-- Sign-in looks users up by e-mail and by their Active Directory account name.
CREATE INDEX users_lower_email_idx ON users (lower(email));
CREATE INDEX users_lower_sam_account_name_idx ON users (lower(sam_account_name));

-- Shared by every table that has an updated_at column.
CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

-- Only a real change moves updated_at: an UPDATE that rewrites the same values does not.
CREATE TRIGGER users_set_updated_at
    BEFORE UPDATE ON users
    FOR EACH ROW
    WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION set_updated_at();
